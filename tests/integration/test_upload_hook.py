# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The device role's upload hook on loopback: an appliance with a management API (device_simulator.py on
127.0.0.150) gets its key and certificate through the API, and real clients (openssl s_client, curl) check what
it serves.

The appliance host has fleet_pki_delivery: artifacts and an ssh connection to a closed port, so any task that tried
to reach it through Ansible would make it UNREACHABLE.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import Fleet, recap

HERE = os.path.dirname(os.path.abspath(__file__))
SIMULATOR = os.path.join(HERE, "device_simulator.py")
ADDRESS = "127.0.0.150"
PASSWORD = "api-pass-canary-6402"
HOST = "cam1"


def free_port():
    with socket.socket() as probe:
        probe.bind((ADDRESS, 0))
        return probe.getsockname()[1]


class Simulator:
    """One device_simulator.py process on ADDRESS with free ports; its state survives restarts."""

    def __init__(self, root):
        self.state = os.path.join(str(root), "appliance")
        self.process = None
        self.api_port = self.service_port = None

    def start(self, *extra):
        ports = ["--api-port", str(self.api_port or 0), "--service-port", str(self.service_port or 0)]
        ready = os.path.join(self.state, "ready.json")
        if os.path.exists(ready):
            os.unlink(ready)
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, SIMULATOR, "--address", ADDRESS, "--name", HOST, "--state", self.state, *ports, *extra],
            env=dict(os.environ, DEVICE_SIMULATOR_PASSWORD=PASSWORD), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"device_simulator did not start: {self.process.stderr.read().decode()}")
            time.sleep(0.05)
        with open(ready, encoding="utf-8") as handle:
            info = json.load(handle)
        self.api_port, self.service_port = info["api_port"], info["service_port"]
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None

    @property
    def url(self):
        return f"https://{ADDRESS}:{self.api_port}/api/v1/tls"

    def counters(self):
        path = os.path.join(self.state, "counters.json")
        if not os.path.exists(path):
            return {"api_requests": 0, "uploads": 0, "rejected": 0}
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    def served_fingerprint(self):
        """SHA-256 of the certificate the service port presents, fetched without verification."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection((ADDRESS, self.service_port), timeout=10) as raw:
            with context.wrap_socket(raw) as tls:
                return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()

    def api(self, method="GET", body=None, content_type="application/json", password=PASSWORD):
        """Call the management API directly (not counted by the tests that count the role's requests)."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        request = urllib.request.Request(self.url, data=body, method=method)
        request.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{password}".encode()).decode())
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def pem_fingerprint(path):
    with open(path, encoding="utf-8") as handle:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(handle.read())).hexdigest()


def s_client(fleet, port):
    """openssl s_client as a strict client that trusts only the fleet CA and checks the IP SAN."""
    return subprocess.run(["openssl", "s_client", "-connect", f"{ADDRESS}:{port}", "-verify_return_error",
                           "-CAfile", os.path.join(fleet.pki_dir, "ca", "ca.crt"), "-verify_ip", ADDRESS],
                          input="", capture_output=True, text=True, check=False, timeout=30)


def curl(fleet, port):
    return subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", os.path.join(fleet.pki_dir, "ca", "ca.crt"),
                           f"https://{ADDRESS}:{port}/"], capture_output=True, text=True, check=False, timeout=30)


@pytest.fixture
def simulator(tmp_path):
    device = Simulator(tmp_path)
    yield device
    device.stop()


@pytest.fixture
def appliance_fleet(tmp_path):
    fleet = Fleet(tmp_path / "fleet", {HOST: ADDRESS})
    # ssh to a closed port: a task that connected to the appliance would fail the run with UNREACHABLE.
    fleet.host_vars[HOST].update(ansible_connection="ssh", ansible_port=free_port(), ansible_user="no-ssh-here",
                                 fleet_pki_delivery="artifacts", fleet_pki_upload_user="admin",
                                 fleet_pki_upload_password=PASSWORD, device_verify_delay=1)
    fleet.write()
    return fleet


def configure(fleet, simulator, **knobs):
    fleet.host_vars[HOST].update(fleet_pki_upload_url=simulator.url, fleet_pki_verify_port=simulator.service_port, **knobs)
    fleet.write()


def assert_serves_fleet_certificate(fleet, simulator):
    result = s_client(fleet, simulator.service_port)
    assert result.returncode == 0 and "Verify return code: 0 (ok)" in result.stdout, result.stdout + result.stderr
    page = curl(fleet, simulator.service_port)
    assert page.returncode == 0 and f"{HOST}: example appliance service" in page.stdout, page.stderr
    assert simulator.served_fingerprint() == pem_fingerprint(os.path.join(fleet.pki_dir, "hosts", HOST, "cert.pem"))


def assert_refused_by_clients(fleet, simulator):
    result = s_client(fleet, simulator.service_port)
    assert result.returncode != 0 and "self-signed certificate" in result.stdout + result.stderr, result.stdout
    page = curl(fleet, simulator.service_port)
    assert page.returncode == 60, (page.returncode, page.stderr)  # 60: the peer certificate cannot be authenticated


def test_upload_then_clients_verify_and_rerun_makes_no_request(appliance_fleet, simulator):
    fleet = appliance_fleet
    simulator.start()
    fleet.playbook("--limit", "laptop")  # the CA exists, the appliance is untouched
    factory = simulator.served_fingerprint()
    assert_refused_by_clients(fleet, simulator)  # negative control: the factory certificate

    configure(fleet, simulator)
    _rc, output = fleet.playbook("-vvv")
    counts = recap(output)
    assert counts[HOST]["failed"] == 0 and counts[HOST]["unreachable"] == 0 and counts[HOST]["changed"] >= 2, output
    assert simulator.counters() == {"api_requests": 1, "uploads": 1, "rejected": 0,
                                    "last_method": "POST", "last_content_type": "application/json"}
    assert simulator.served_fingerprint() != factory
    assert_serves_fleet_certificate(fleet, simulator)
    assert re.search(r"TASK \[fleet\.pki\.device : Check from the control node that the device serves the uploaded "
                     r"certificate\].*?\nok: \[cam1", output, re.S), output

    key_lines = open(os.path.join(fleet.pki_dir, "hosts", HOST, "key.pem"), encoding="utf-8").read().splitlines()
    assert "PRIVATE KEY" not in output and PASSWORD not in output
    assert not any(line in output for line in key_lines[1:-1]), "a line of the device key is in the -vvv output"
    record = json.load(open(os.path.join(fleet.pki_dir, "hosts", HOST, "uploaded.json"), encoding="utf-8"))
    assert record["url"] == simulator.url and record["status"] == 200

    _rc, output = fleet.playbook()
    assert all(host["changed"] == 0 and host["failed"] == 0 for host in recap(output).values()), output
    assert simulator.counters()["api_requests"] == 1  # the second run made no request to the API
    assert_serves_fleet_certificate(fleet, simulator)


def test_wrong_credentials_fail_naming_host_and_status_and_the_next_run_converges(appliance_fleet, simulator):
    fleet = appliance_fleet
    simulator.start()
    configure(fleet, simulator, fleet_pki_upload_password="wrong-pass-canary-1187")
    rc, output = fleet.playbook(check=False)
    assert rc != 0
    assert f"host {HOST}: the upload to {simulator.url} (POST) failed: HTTP 401; Status code was 401" in output, output
    assert "the device said: {\"error\": \"authentication required\"}" in output, output
    assert re.search(rf"^{HOST}\s+FAILED\s+fleet\.pki\.device : Fail with the host", output.split("FLEET.PKI SUMMARY", 1)[1], re.M), output
    assert "wrong-pass-canary-1187" not in output and "PRIVATE KEY" not in output
    # Nothing half-applied: the appliance refused, stored nothing and still serves its factory certificate.
    assert simulator.counters()["uploads"] == 0 and simulator.counters()["rejected"] == 1
    assert simulator.api()[1]["source"] == "factory"
    assert_refused_by_clients(fleet, simulator)
    assert not os.path.exists(os.path.join(fleet.pki_dir, "hosts", HOST, "uploaded.json"))

    configure(fleet, simulator, fleet_pki_upload_password=PASSWORD)
    _rc, output = fleet.playbook()  # the certificate is kept, but the appliance never got it: upload now
    assert re.search(rf"^{HOST}\s+kept$", output.split("FLEET.PKI SUMMARY", 1)[1], re.M), output
    assert simulator.counters()["uploads"] == 1
    assert_serves_fleet_certificate(fleet, simulator)
    _rc, output = fleet.playbook()
    assert recap(output)[HOST]["changed"] == 0 and simulator.counters()["api_requests"] == 2, output


def test_multipart_put_with_vendor_field_names(appliance_fleet, simulator):
    fleet = appliance_fleet
    simulator.start("--fields", "key=private_key,certificate=cert_chain")
    configure(fleet, simulator, fleet_pki_upload_format="multipart", fleet_pki_upload_method="PUT",
              fleet_pki_upload_fields={"key": "private_key", "fullchain": "cert_chain"},
              fleet_pki_upload_extra_fields={"slot": "https"})
    _rc, output = fleet.playbook("-vvv")
    assert simulator.counters() == {"api_requests": 1, "uploads": 1, "rejected": 0, "last_method": "PUT",
                                    "last_content_type": "multipart/form-data"}, output
    assert_serves_fleet_certificate(fleet, simulator)
    assert "PRIVATE KEY" not in output and PASSWORD not in output
    _rc, output = fleet.playbook()
    assert recap(output)[HOST]["changed"] == 0 and simulator.counters()["api_requests"] == 1, output


def test_an_appliance_reset_to_factory_gets_the_certificate_again(appliance_fleet, simulator):
    fleet = appliance_fleet
    simulator.start()
    configure(fleet, simulator)
    fleet.playbook()
    assert simulator.counters()["uploads"] == 1
    simulator.stop()
    for name in ("current.crt", "current.key"):  # a factory reset
        os.unlink(os.path.join(simulator.state, name))
    simulator.start()
    assert_refused_by_clients(fleet, simulator)
    _rc, output = fleet.playbook()
    assert re.search(rf"^{HOST}\s+kept$", output.split("FLEET.PKI SUMMARY", 1)[1], re.M), output
    assert simulator.counters()["uploads"] == 2
    assert_serves_fleet_certificate(fleet, simulator)


def test_validate_certs_refuses_an_unknown_api_certificate_and_accepts_a_pinned_one(appliance_fleet, simulator):
    fleet = appliance_fleet
    simulator.start()
    configure(fleet, simulator)
    fleet.playbook("--limit", "laptop")
    configure(fleet, simulator, fleet_pki_upload_ca_path=os.path.join(fleet.pki_dir, "ca", "ca.crt"))
    rc, output = fleet.playbook(check=False)  # the API presents its factory certificate, not one from the fleet CA
    assert rc != 0 and f"host {HOST}: the upload to {simulator.url} (POST) failed: no HTTP answer" in output, output
    assert "CERTIFICATE_VERIFY_FAILED" in output, output
    assert simulator.counters()["api_requests"] == 0  # refused during the handshake: no key was sent

    shutil.copy(os.path.join(simulator.state, "factory.crt"), os.path.join(fleet.root, "pinned-factory.crt"))
    configure(fleet, simulator, fleet_pki_upload_ca_path=os.path.join(fleet.root, "pinned-factory.crt"))
    fleet.playbook()
    assert simulator.counters()["uploads"] == 1
    assert_serves_fleet_certificate(fleet, simulator)


def test_bad_upload_settings_name_host_and_value(appliance_fleet, simulator):
    fleet = appliance_fleet
    simulator.start()
    configure(fleet, simulator)
    fleet.host_vars[HOST].update(fleet_pki_upload_url="ftp://127.0.0.150/tls", fleet_pki_upload_fields={"cert": "c"})
    fleet.write()
    rc, output = fleet.playbook(check=False)
    assert rc != 0
    assert f"host {HOST}: fleet_pki_upload_url 'ftp://127.0.0.150/tls' is not an http:// or https:// URL" in output, output
    assert "fleet_pki_upload_fields has unknown parts cert" in output, output
    assert simulator.counters()["api_requests"] == 0

    fleet.host_vars[HOST].update(fleet_pki_upload_url=simulator.url, fleet_pki_upload_method="PATCH")
    fleet.host_vars[HOST].pop("fleet_pki_upload_fields")
    fleet.write()
    rc, output = fleet.playbook(check=False)
    assert rc != 0 and "fleet_pki_upload_method must be one of: POST, PUT, got: PATCH" in output, output


def test_check_mode_reports_the_upload_and_sends_nothing(appliance_fleet, simulator):
    fleet = appliance_fleet
    simulator.start()
    configure(fleet, simulator)
    fleet.playbook("--limit", "laptop")
    _rc, output = fleet.playbook("--check")
    assert f"{HOST}: would upload to {simulator.url} (new certificate" in output, output
    assert simulator.counters()["api_requests"] == 0


def test_simulator_refuses_bad_uploads(tmp_path, simulator):
    simulator.start()
    status, answer = simulator.api()
    assert status == 200 and answer["source"] == "factory"
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", answer["fingerprint_sha256"])
    assert simulator.api("POST", b"{}", password="nope")[0] == 401
    status, answer = simulator.api("POST", b"{not json")
    assert status == 400 and "malformed JSON" in answer["error"]
    status, answer = simulator.api("POST", b'{"key": "x"}')
    assert status == 400 and "'certificate' is missing" in answer["error"]

    scratch = str(tmp_path)
    for name in ("one", "two"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", f"{scratch}/{name}.key", "-out", f"{scratch}/{name}.crt", "-subj", f"/CN={name}",
                        "-days", "1"], capture_output=True, check=True)
    read = {name: open(f"{scratch}/{name}", encoding="utf-8").read() for name in ("one.key", "one.crt", "two.key")}
    status, answer = simulator.api("PUT", json.dumps({"key": read["two.key"], "certificate": read["one.crt"]}).encode())
    assert status == 400 and "KEY_VALUES_MISMATCH" in answer["error"], answer
    assert simulator.api()[1]["source"] == "factory" and simulator.counters()["uploads"] == 0
    status, answer = simulator.api("PUT", json.dumps({"key": read["one.key"], "certificate": read["one.crt"]}).encode())
    assert status == 200 and simulator.served_fingerprint() == pem_fingerprint(f"{scratch}/one.crt")
