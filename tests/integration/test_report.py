# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/report.yml end to end: a loopback fleet with a host in every status, checked with openssl,
a Prometheus parser and headless Chromium (network cut off, every request logged)."""

from __future__ import annotations

import datetime
import html.parser
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile

import pytest
from conftest import REPO, Fleet, recap

import chromium

# Addresses of this test only (the lab and the other tests use 127.0.0.11-15 and 127.0.0.21-25).
DEVICES = {"old1": "127.0.0.120", "dev1": "127.0.0.121", "dev2": "127.0.0.122", "fw1": "127.0.0.123",
           "short1": "127.0.0.124", "rev1": "127.0.0.125", "moved1": "127.0.0.126"}
LATE = {"new1": "127.0.0.127", "bad1": "127.0.0.128", "down1": "127.0.0.129"}
EXPECTED = {"old1": "expired", "dev1": "ok", "dev2": "ok", "fw1": "ok", "short1": "renew_due", "rev1": "revoked",
            "moved1": "mismatch", "new1": "missing", "bad1": "error", "down1": "unreachable"}
INJECTION = "<script>alert(1)</script>"
SCREENSHOT = os.path.join(REPO, "tests", "output", "artifacts", "fleet-report.png")
NO_NETWORK = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9")

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed")


def free_port(address):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def openssl_facts(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial", "-enddate"], capture_output=True,
                         text=True, check=True).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines())
    not_after = datetime.datetime.strptime(fields["notAfter"], "%b %d %H:%M:%S %Y GMT")
    return fields["serial"].upper(), not_after.strftime("%Y-%m-%dT%H:%M:%SZ")


def index_lines(fleet):
    with open(os.path.join(fleet.pki_dir, "index.txt"), encoding="utf-8") as handle:
        return handle.read().splitlines()


def write_index(fleet, lines):
    with open(os.path.join(fleet.pki_dir, "index.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def revoke(fleet, serial):
    """Mark a serial revoked the way `openssl ca -revoke` does (the revocation module is not relied on here)."""
    lines = []
    for line in index_lines(fleet):
        fields = line.split("\t")
        if fields[3] == serial:
            fields[0], fields[2] = "R", datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ") + ",keyCompromise"
        lines.append("\t".join(fields))
    assert any(line.startswith("R\t") for line in lines), serial
    write_index(fleet, lines)


def plant_expired(fleet, host, address):
    """An expired certificate signed by the fleet CA on `host`, recorded in index.txt as openssl ca would."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    with open(os.path.join(fleet.pki_dir, "ca", "ca.key"), "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), password=None)
    with open(os.path.join(fleet.pki_dir, "ca", "ca.crt"), "rb") as handle:
        ca_pem = handle.read()
    ca = x509.load_pem_x509_certificate(ca_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    serial = x509.random_serial_number()
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - datetime.timedelta(days=40)).not_valid_after(now - datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    directory = os.path.dirname(fleet.device_file(host, "cert"))
    os.makedirs(directory, exist_ok=True)
    files = {"cert": cert.public_bytes(serialization.Encoding.PEM), "chain": ca_pem,
             "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())}
    for role, data in files.items():
        with open(fleet.device_file(host, role), "wb") as handle:
            handle.write(data)
    serial_hex = format(serial, "X")
    serial_hex = serial_hex if len(serial_hex) % 2 == 0 else "0" + serial_hex
    write_index(fleet, index_lines(fleet) + ["\t".join(
        ("V", cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ"), "", serial_hex, "unknown", f"/CN={host}"))])


def held_cert(fleet, host):
    if host == "fw1":
        return os.path.join(fleet.pki_dir, "hosts", host, "cert.pem")
    return fleet.device_file(host, "cert")


class Dom(html.parser.HTMLParser):
    """Elements of Chromium's DOM dump with their attributes and text (text of the innermost open element)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self._open = [], []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in ("br", "meta", "line", "rect", "img", "input", "link"):
            self._open.append(element)

    def handle_endtag(self, tag):
        for position in range(len(self._open) - 1, -1, -1):
            if self._open[position]["tag"] == tag:
                del self._open[position:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag, **attrs):
        return [element for element in self.elements if element["tag"] == tag
                and all(element["attrs"].get(name.replace("_", "-")) == value for name, value in attrs.items())]


def page_requests(net_log_path):
    """URLs the page itself asked the network for (the browser's own background requests excluded)."""
    with open(net_log_path, encoding="utf-8") as handle:
        log = json.load(handle)
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] == start_job and "url" in params and not params["url"].startswith("file:") \
                and str(params.get("network_isolation_key", "")).startswith("file://"):
            urls.append(params["url"])
    return urls


def dump_dom_offline(url, work):
    """Chromium --dump-dom with DNS and the proxy pointed at nothing, and a NetLog of every request."""
    net_log = os.path.join(work, "netlog.json")
    profile = tempfile.mkdtemp(prefix="profile-", dir=work)
    out, err, _seconds, timed_out = chromium._run(  # pylint: disable=protected-access
        [*NO_NETWORK, f"--user-data-dir={profile}", f"--log-net-log={net_log}", "--dump-dom", url], work, 90)
    assert not timed_out, err
    return out, page_requests(net_log)


@pytest.fixture
def report_fleet(tmp_path):
    fleet = Fleet(tmp_path, {name: address for name, address in DEVICES.items() if name != "old1"})
    fleet.host_vars["fw1"] = {"fleet_pki_delivery": "artifacts"}
    fleet.host_vars["short1"] = {"fleet_pki_validity_days": 1, "fleet_pki_renew_before": "97%"}
    fleet.write()
    fleet.playbook("--limit", "devices")  # provision.yml, the collection's own way; the client is not needed here

    revoke(fleet, openssl_facts(held_cert(fleet, "rev1"))[0])
    plant_expired(fleet, "old1", DEVICES["old1"])
    fleet.devices = dict(DEVICES, **LATE)
    fleet.host_vars["moved1"] = {"fleet_pki_dns_names": ["moved1.fleet.test"]}  # inventory changed, not re-provisioned
    fleet.host_vars["bad1"] = {"fleet_pki_dns_names": [INJECTION]}
    fleet.host_vars["down1"] = {"ansible_connection": "ssh", "ansible_port": free_port(LATE["down1"]),
                                "ansible_ssh_common_args": "-o ConnectTimeout=5 -o BatchMode=yes"}
    fleet.write()
    return fleet


def test_report_json_prometheus_and_html(report_fleet, tmp_path):
    fleet = report_fleet
    os.chmod(fleet.device_file("dev1", "cert"), 0o640)  # a real (non-check) module run would set 0644 again
    before = {host: open(held_cert(fleet, host), "rb").read() for host in EXPECTED if os.path.exists(held_cert(fleet, host))}
    report_dir = str(tmp_path / "report")

    _rc, output = fleet.playbook("-vvv", "-e", f"report_dir={report_dir}", playbook="playbooks/report.yml")
    counts = recap(output)
    assert counts["down1"]["ignored"] == 1 and counts["bad1"]["ignored"] == 1, output
    assert all(counts[host]["failed"] == 0 and counts[host]["unreachable"] == 0 for host in EXPECTED), output
    for host, address in DEVICES.items():  # the device is asked once; the artefact-only host not at all
        assert output.count(f"<{address}> EXEC ") == (0 if host == "fw1" else 1), (host, output)
    assert stat.S_IMODE(os.stat(fleet.device_file("dev1", "cert")).st_mode) == 0o640, "the report changed a device"
    assert before == {host: open(held_cert(fleet, host), "rb").read() for host in before}
    assert sorted(os.listdir(report_dir)) == ["fleet.html", "fleet.json", "fleet.prom"]  # no temp file left over
    assert all(stat.S_IMODE(os.stat(os.path.join(report_dir, name)).st_mode) == 0o644 for name in os.listdir(report_dir))

    with open(os.path.join(report_dir, "fleet.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    hosts = {entry["host"]: entry for entry in report["hosts"]}
    assert {host: entry["status"] for host, entry in hosts.items()} == EXPECTED, json.dumps(report, indent=1)
    assert report["total"] == len(EXPECTED)
    assert report["counts"] == {status: list(EXPECTED.values()).count(status) for status in report["counts"]}
    assert sum(report["counts"].values()) == len(EXPECTED)
    days = [entry["days_left"] for entry in report["hosts"] if entry["days_left"] is not None]
    assert days == sorted(days) and [entry["host"] for entry in report["hosts"]][0] == "old1"
    generated = datetime.datetime.strptime(report["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    for host, entry in hosts.items():
        address = dict(DEVICES, **LATE)[host]
        if host != "bad1":
            assert f"IP:{address}" in entry["addresses"], entry
        if EXPECTED[host] in ("missing", "unreachable", "error"):
            assert entry["serial"] is None and entry["days_left"] is None
            continue
        serial, not_after = openssl_facts(held_cert(fleet, host))
        assert (entry["serial"], entry["not_after"]) == (serial, not_after), host
        expected_days = (datetime.datetime.strptime(not_after, "%Y-%m-%dT%H:%M:%SZ") - generated).total_seconds() / 86400
        assert entry["days_left"] == round(expected_days, 2), host
        assert entry["source"] == ("artifacts" if host == "fw1" else "device")
        assert entry["issuer"] == report["ca"]["subject"] and entry["sans"] == [f"IP:{address}"]
    assert any(reason.startswith("expiring: ") for reason in hosts["short1"]["reasons"])
    assert hosts["rev1"]["reasons"] == [f"revoked: serial {hosts['rev1']['serial']}"]
    assert hosts["moved1"]["reasons"] == ["SANs differ: +DNS:moved1.fleet.test"]
    assert hosts["new1"]["detail"] == "no certificate on the host"
    assert INJECTION in hosts["bad1"]["detail"] and "host bad1" in hosts["bad1"]["detail"]
    assert "127.0.0.129" in hosts["down1"]["detail"]
    ca_serial, ca_not_after = openssl_facts(os.path.join(fleet.pki_dir, "ca", "ca.crt"))
    assert (report["ca"]["serial"], report["ca"]["not_after"]) == (ca_serial, ca_not_after)

    from prometheus_client.parser import text_string_to_metric_families
    with open(os.path.join(report_dir, "fleet.prom"), encoding="utf-8") as handle:
        families = {family.name: family for family in text_string_to_metric_families(handle.read())}
    expiry = {sample.labels["host"]: (sample.labels["serial"], sample.value)
              for sample in families["fleet_pki_certificate_expiry_timestamp_seconds"].samples}
    assert set(expiry) == {host for host, entry in hosts.items() if entry["serial"]}
    for host, (serial, value) in expiry.items():
        not_after = datetime.datetime.strptime(hosts[host]["not_after"], "%Y-%m-%dT%H:%M:%SZ")
        assert serial == hosts[host]["serial"]
        assert value == not_after.replace(tzinfo=datetime.timezone.utc).timestamp()
    status = {(sample.labels["host"], sample.labels["status"]): sample.value
              for sample in families["fleet_pki_certificate_status"].samples}
    assert {host for (host, name), value in status.items() if value == 1} == set(EXPECTED)
    assert all(status[(host, name)] == 1 for host, name in EXPECTED.items())
    assert {sample.labels["status"]: sample.value for sample in families["fleet_pki_hosts"].samples} == report["counts"]
    assert families["fleet_pki_ca_days_left"].samples[0].value == report["ca"]["days_left"]
    assert families["fleet_pki_report_generated_timestamp_seconds"].samples[0].value == report["generated_timestamp"]

    check_html_in_chromium(os.path.join(report_dir, "fleet.html"), report, str(tmp_path))


def check_html_in_chromium(path, report, work):
    if chromium.missing_reason():
        pytest.skip(chromium.missing_reason())
    url = "file://" + path

    control = os.path.join(work, "control.html")
    with open(control, "w", encoding="utf-8") as handle:
        handle.write('<!DOCTYPE html><p id="x">x</p><img src="http://fleet-report.invalid/logo.png">')
    _dom, requests = dump_dom_offline("file://" + control, work)
    assert requests == ["http://fleet-report.invalid/logo.png"], "the NetLog check does not see page requests"

    dom, requests = dump_dom_offline(url, work)
    assert requests == [], requests
    page = Dom()
    page.feed(dom)
    assert page.find("span", id="report-end"), "the page did not render to its end"
    assert not page.find("script") and INJECTION in dom.replace("&lt;", "<").replace("&gt;", ">")

    rows = [element for element in page.find("tr") if element["attrs"].get("class") == "host"]
    assert [row["attrs"]["data-host"] for row in rows] == [entry["host"] for entry in report["hosts"]]
    cells = [element for element in page.elements if element["tag"] == "td" and "days" in element["attrs"].get("class", "")]
    for row, cell, entry in zip(rows, cells, report["hosts"]):
        assert row["attrs"]["data-status"] == entry["status"]
        assert row["attrs"]["data-serial"] == (entry["serial"] or "")
        assert row["attrs"]["data-not-after"] == (entry["not_after"] or "")
        if entry["days_left"] is None:
            assert row["attrs"]["data-days-left"] == "" and cell["text"] == "\u2013"
        else:
            assert float(row["attrs"]["data-days-left"]) == entry["days_left"]
            whole = int(abs(entry["days_left"]))
            assert (str(whole) in cell["text"]) or ("hour" in cell["text"] and whole == 0) or cell["text"] == "expired today"
        assert entry["host"] in row["text"] and (entry["serial"] or "\u2013") in row["text"]
    for status, count in report["counts"].items():
        card = page.find("div", data_status=status)
        assert card and card[0]["attrs"]["data-count"] == str(count)

    chart = page.find("svg", id="timeline")
    assert chart and chart[0]["attrs"]["data-marks"] == str(len(report["hosts"]))
    marks = [element for element in page.find("g") if element["attrs"].get("class") == "mark"]
    assert [mark["attrs"]["data-host"] for mark in marks] == [entry["host"] for entry in report["hosts"]]
    bars = [element for element in page.find("rect") if element["attrs"].get("class") == "bar"]
    assert len(bars) == sum(1 for entry in report["hosts"] if entry["not_after"])
    assert {element["attrs"]["data-host"] for element in page.find("tr") if "data-host" in element["attrs"]
            and element["attrs"].get("data-days-left") and element["attrs"].get("class") != "host"} == \
        {entry["host"] for entry in report["hosts"] if entry["status"] in ("renew_due", "expired")}
    assert page.find("div", id="ca")[0]["attrs"]["data-days-left"] == str(report["ca"]["days_left"])

    ok, problem = chromium.screenshot(url, work, SCREENSHOT, window_size="1400,2200")
    assert ok, problem
    with open(SCREENSHOT, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_check_mode_writes_nothing_and_shows_the_counts(report_fleet, tmp_path):
    report_dir = str(tmp_path / "check-report")
    _rc, output = report_fleet.playbook("--check", "-e", f"report_dir={report_dir}", "--limit", "dev1,short1,new1",
                                        playbook="playbooks/report.yml")
    assert not os.path.exists(report_dir), output
    assert "3 hosts: missing=1 renew_due=1 ok=1 - would write (check mode)" in " ".join(output.split()), output
