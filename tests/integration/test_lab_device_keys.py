# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_pki_key_location: device on real Debian 12 lab devices (systemd-nspawn, ssh, nginx).

dev1 and dev3 boot the plain image, which has no python3-cryptography: they make their keys and CSRs
with the openssl CLI. dev2 boots the image with python3-cryptography. dev4 is a client that trusts the
CA in its system store and checks every device with curl. The tests run in order and build on each other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, recap

LAB = os.path.join(REPO, "tests", "lab", "lab.py")
PREPARE = os.path.join(REPO, "extensions", "molecule", "fleet", "prepare.yml")
RECORD = os.path.join(REPO, "tests", "integration", "record.yml")
KEY = os.path.join(os.environ.get("FLEET_PKI_LAB_STATE", "/run/fleet-pki-lab"), "id_ed25519")
DEVICES = {f"dev{n}": f"10.214.0.{10 + n}" for n in range(1, 4)}
BACKENDS = {"dev1": "openssl", "dev2": "cryptography", "dev3": "openssl"}
CLIENT = ("dev4", "10.214.0.14")
MARKER = "fleet.pki lab device"
SSH = ["ssh", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "LogLevel=ERROR"]


def lab(*args):
    return subprocess.run([sys.executable, LAB, *args], capture_output=True, text=True, check=True, timeout=900)


def _missing_tools():
    if os.geteuid() != 0:
        return "the lab needs root"
    missing = [tool for tool in ("systemd-nspawn", "mmdebstrap", "ip") if shutil.which(tool) is None]
    return f"lab tools missing: {', '.join(missing)}" if missing else None


pytestmark = pytest.mark.skipif(_missing_tools() is not None, reason=str(_missing_tools()))


class LabFleet:
    def __init__(self, root):
        self.root = str(root)
        self.inventory = os.path.join(self.root, "hosts.yml")
        self.pki_dir = os.path.join(self.root, "pki")
        self.record_dir = os.path.join(self.root, "record")
        self.host_vars = {name: {} for name in DEVICES}
        self.write()

    def write(self):
        ssh = {"ansible_user": "root", "ansible_ssh_private_key_file": KEY,
               "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
               "ansible_python_interpreter": "/usr/bin/python3"}
        inventory = {"all": {
            "vars": {"fleet_pki_dir": self.pki_dir, "fleet_pki_reload_services": ["nginx"], "fleet_pki_verify_port": 443},
            "children": {
                "devices": {"vars": dict(ssh, fleet_pki_key_location="device"),
                            "hosts": {name: dict(ansible_host=address, **self.host_vars[name])
                                      for name, address in DEVICES.items()}},
                "clients": {"hosts": {CLIENT[0]: dict(ssh, ansible_host=CLIENT[1])}},
            },
        }}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle)

    def playbook(self, playbook, *args, check=True):
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", self.inventory, playbook, *args]
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=900)
        output = result.stdout + result.stderr
        if check and result.returncode != 0:
            raise AssertionError(f"{playbook} failed ({result.returncode}):\n{output}")
        return result.returncode, output

    def provision(self, *args):
        """provision.yml plus the record play: ({device: fleet.pki.certificate result}, output)."""
        os.makedirs(self.record_dir, exist_ok=True)
        for name in os.listdir(self.record_dir):
            os.unlink(os.path.join(self.record_dir, name))
        _rc, output = self.playbook(RECORD, "-e", f"record_dir={self.record_dir}", *args)
        results = {}
        for name in os.listdir(self.record_dir):
            with open(os.path.join(self.record_dir, name), encoding="utf-8") as handle:
                results[name[:-5]] = json.load(handle)
        return results, output

    def on(self, host, command):
        """Run a shell command on a lab host over ssh; return (rc, stdout + stderr)."""
        address = CLIENT[1] if host == CLIENT[0] else DEVICES[host]
        result = subprocess.run([*SSH, f"root@{address}", command], capture_output=True, text=True, check=False,
                                timeout=60)
        return result.returncode, result.stdout + result.stderr


def summary(output):
    return output.split("FLEET.PKI SUMMARY", 1)[1]


def check_device(fleet, name, output):
    """The key is on the device (0600, no pending copy), belongs to the certificate, and is nowhere else."""
    rc, out = fleet.on(name, "stat -c %a /etc/fleet-pki/key.pem; test ! -e /etc/fleet-pki/key.pem.pending && echo no-pending")
    assert rc == 0 and out.split() == ["600", "no-pending"], (name, out)
    rc, out = fleet.on(name, "openssl pkey -in /etc/fleet-pki/key.pem -pubout > /tmp/key.pub && "
                             "openssl x509 -in /etc/fleet-pki/cert.pem -noout -pubkey > /tmp/cert.pub && "
                             "cmp /tmp/key.pub /tmp/cert.pub && echo same-key")
    assert rc == 0 and "same-key" in out, (name, out)
    rc, body = fleet.on(name, "grep -v -- ----- /etc/fleet-pki/key.pem")
    lines = [line for line in body.split() if len(line) >= 32]  # whole base64 lines, not a short tail
    assert rc == 0 and lines, (name, body)
    assert not any(line in output for line in lines), f"key material of {name} in the output"
    assert not os.path.exists(os.path.join(fleet.pki_dir, "hosts", name, "key.pem")), name


def key_digest(fleet, name):
    rc, out = fleet.on(name, "sha256sum /etc/fleet-pki/key.pem")
    assert rc == 0, out
    return out.split()[0]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    lab("up", str(len(DEVICES) + 1), "--suites", "bookworm", "--cryptography", "2")
    try:
        fleet = LabFleet(tmp_path_factory.mktemp("lab-device-keys"))
        fleet.playbook(PREPARE)
        for name, wanted in BACKENDS.items():  # the lab gives what the test relies on
            rc, _out = fleet.on(name, "python3 -c 'import cryptography'")
            assert (rc == 0) == (wanted == "cryptography"), (name, wanted)
        yield fleet
    finally:
        lab("down")


def test_devices_make_their_keys_with_cryptography_or_the_openssl_cli(fleet):
    results, output = fleet.provision("-vvv")
    text = summary(output)
    assert "PRIVATE KEY" not in output
    for name in DEVICES:
        result = results[name]
        assert re.search(rf"^{name}\s+renewed\s+.*not signed by the current CA", text, re.M), text
        assert result["key_location"] == "device" and result["device_key_backend"] == BACKENDS[name], result
        assert result["device_runs"] == 3, result
        check_device(fleet, name, output)
    for name, address in DEVICES.items():  # the client trusts the CA in its system store; nginx was reloaded
        rc, page = fleet.on(CLIENT[0], f"curl -sS --max-time 10 https://{address}/")
        assert rc == 0 and MARKER in page, (name, page)


def test_a_second_run_changes_nothing_with_one_module_run_per_device(fleet):
    _rc, output = fleet.playbook("playbooks/provision.yml", "-vvv")
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap(output).values()), output
    for name, address in DEVICES.items():
        assert re.search(rf"^{name}\s+kept$", summary(output), re.M), summary(output)
        runs = output.count(f"<{address}> SSH: EXEC ")  # with pipelining, one ssh command per module run
        assert runs == 1, (name, runs, "module runs on the device")
        rc, out = fleet.on(name, "test ! -e /etc/fleet-pki/key.pem.pending && echo no-pending")
        assert rc == 0 and "no-pending" in out, (name, out)
    results, _output = fleet.provision()
    assert all(not result["issued"] and result["device_runs"] == 1 for result in results.values()), results


def test_a_new_key_type_gives_a_new_device_key(fleet):
    before = {name: key_digest(fleet, name) for name in DEVICES}
    fleet.host_vars["dev1"]["fleet_pki_key_type"] = "rsa-2048"  # openssl CLI, RSA
    fleet.host_vars["dev2"]["fleet_pki_key_type"] = "ec-p384"   # cryptography, P-384
    fleet.write()
    results, output = fleet.provision()
    text = summary(output)
    assert re.search(r"^dev1\s+renewed\s+key type differs: ec-p256 -> rsa-2048$", text, re.M), text
    assert re.search(r"^dev2\s+renewed\s+key type differs: ec-p256 -> ec-p384$", text, re.M), text
    assert re.search(r"^dev3\s+kept$", text, re.M), text
    assert key_digest(fleet, "dev1") != before["dev1"] and key_digest(fleet, "dev2") != before["dev2"]
    assert key_digest(fleet, "dev3") == before["dev3"]
    for name, wanted in (("dev1", "Private-Key: (2048 bit"), ("dev2", "Private-Key: (384 bit")):
        assert results[name]["device_runs"] == 3
        rc, out = fleet.on(name, "openssl pkey -in /etc/fleet-pki/key.pem -noout -text | head -1")
        assert rc == 0 and wanted in out, (name, out)
        check_device(fleet, name, output)
        rc, page = fleet.on(CLIENT[0], f"curl -sS --max-time 10 https://{DEVICES[name]}/")
        assert rc == 0 and MARKER in page, (name, page)


# A compromised device: its `openssl req` asks to become a CA, for foreign names, with another subject.
HOSTILE_OPENSSL = """#!/bin/sh
if [ "$1" = req ]; then
  exec /usr/bin/openssl "$@" -subj /CN=evil.example -addext basicConstraints=critical,CA:TRUE \\
    -addext subjectAltName=DNS:evil.example,IP:10.214.0.99 -addext keyUsage=critical,keyCertSign,cRLSign
fi
exec /usr/bin/openssl "$@"
"""


def test_a_malicious_csr_gets_a_certificate_from_the_inventory_only(fleet):
    install = subprocess.run([*SSH, f"root@{DEVICES['dev3']}",
                              "cat > /usr/local/bin/openssl && chmod 755 /usr/local/bin/openssl"],
                             input=HOSTILE_OPENSSL, capture_output=True, text=True, check=False, timeout=60)
    assert install.returncode == 0, install.stderr
    try:
        # the wrapper really is what the device's openssl now does: its CSRs ask for CA:TRUE and evil.example
        rc, out = fleet.on("dev3", "printf '[req]\\ndistinguished_name=dn\\nprompt=no\\n[dn]\\n' | openssl req -new "
                                   "-key /etc/fleet-pki/key.pem -subj /CN=dev3 -config /dev/stdin | "
                                   "/usr/bin/openssl req -noout -text")
        assert rc == 0 and "CA:TRUE" in out and "DNS:evil.example" in out, out
        fleet.host_vars["dev3"]["fleet_pki_key_type"] = "ec-p384"  # a new key, so a new CSR
        fleet.write()
        results, output = fleet.provision()
        result = results["dev3"]
        assert result["issued"] and result["device_key_backend"] == "openssl", result
        warning = re.sub(r"\s+", " ", output)
        for asked in ("the device's CSR asked for subject 'CN=evil.example'",
                      "SANs not in the inventory (IP:10.214.0.99, DNS:evil.example)", "CA:TRUE",
                      "key usage key_cert_sign, crl_sign", "Ignored: the certificate is built from the inventory"):
            assert asked in warning, (asked, output)
        rc, cert = fleet.on("dev3", "/usr/bin/openssl x509 -in /etc/fleet-pki/cert.pem -noout -subject -ext "
                                    "basicConstraints,subjectAltName,keyUsage")
        assert rc == 0, cert
        assert "CA:FALSE" in cert and "CA:TRUE" not in cert, cert
        assert "evil.example" not in cert and "10.214.0.99" not in cert and "Certificate Sign" not in cert, cert
        assert f"IP Address:{DEVICES['dev3']}" in cert and "subject=CN = dev3" in cert, cert
        check_device(fleet, "dev3", output)
        rc, page = fleet.on(CLIENT[0], f"curl -sS --max-time 10 https://{DEVICES['dev3']}/")
        assert rc == 0 and MARKER in page, page
    finally:
        fleet.on("dev3", "rm -f /usr/local/bin/openssl")
