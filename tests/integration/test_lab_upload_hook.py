# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The upload hook in the lab: an appliance with a management API on a real device, reached through the bridge.

dev1 (Debian 12) plays the appliance: tests/integration/device_simulator.py runs there as a transient systemd
service (systemd-run), with its HTTPS management API on 8443 (factory self-signed certificate, basic auth) and its
TLS service on 443. In the inventory dev1 is an artefact-only device whose SSH port is closed to Ansible (port 2),
so the run proves that nothing connects to it except the upload (ansible.builtin.uri on the control node) and the
served-certificate check. dev2 (Debian 13) is a client: the trust role puts the CA in its system store, and curl
and openssl on dev2 verify what dev1 serves.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import yaml
from conftest import REPO, recap
from lab_helpers import SSH_VARS, lab, missing_lab_tools, playbook, ssh

APPLIANCE = ("dev1", "10.214.0.11")
CLIENT = ("dev2", "10.214.0.12")
API_PORT = 8443
PASSWORD = "lab-api-pass-canary-3391"
STATE = "/var/lib/appliance"
MARKER = "dev1: example appliance service"
SIMULATOR = os.path.join(REPO, "tests", "integration", "device_simulator.py")

pytestmark = pytest.mark.skipif(missing_lab_tools() is not None, reason=str(missing_lab_tools()))


def counters():
    rc, out = ssh(APPLIANCE[1], f"cat {STATE}/counters.json 2>/dev/null || echo '{{}}'")
    assert rc == 0, out
    return dict({"api_requests": 0, "uploads": 0, "rejected": 0}, **json.loads(out))


def client_curl():
    """curl on the client device, trusting its system store only."""
    return ssh(CLIENT[1], f"curl -sS --max-time 10 https://{APPLIANCE[1]}/")


@pytest.fixture(scope="module")
def appliance_lab(tmp_path_factory):
    lab("up", "2")
    try:
        root = str(tmp_path_factory.mktemp("lab-upload"))
        with open(SIMULATOR, encoding="utf-8") as handle:
            rc, out = ssh(APPLIANCE[1], "cat > /usr/local/bin/device_simulator.py", stdin=handle.read())
        assert rc == 0, out
        rc, out = ssh(APPLIANCE[1], "umask 077 && cat > /etc/appliance-password", stdin=PASSWORD + "\n")
        assert rc == 0, out
        rc, out = ssh(APPLIANCE[1],
                      "systemctl stop nginx 2>/dev/null; "
                      "systemd-run --unit=appliance --collect /usr/bin/python3 /usr/local/bin/device_simulator.py "
                      f"--address 0.0.0.0 --factory-address {APPLIANCE[1]} --name {APPLIANCE[0]} "
                      f"--api-port {API_PORT} --service-port 443 --state {STATE} --password-file /etc/appliance-password")
        assert rc == 0, out
        deadline = time.monotonic() + 30
        while ssh(APPLIANCE[1], f"test -s {STATE}/ready.json")[0] != 0:
            assert time.monotonic() < deadline, ssh(APPLIANCE[1], "journalctl -u appliance --no-pager | tail -20")[1]
            time.sleep(0.5)

        inventory = os.path.join(root, "hosts.yml")
        appliance = {"ansible_host": APPLIANCE[1], "ansible_connection": "ssh", "ansible_port": 2,
                     "ansible_user": "no-ssh-here", "fleet_pki_delivery": "artifacts",
                     "fleet_pki_upload_url": f"https://{APPLIANCE[1]}:{API_PORT}/api/v1/tls",
                     "fleet_pki_upload_user": "admin", "fleet_pki_upload_password": PASSWORD,
                     "fleet_pki_verify_port": 443}
        with open(inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"all": {"vars": {"fleet_pki_dir": os.path.join(root, "pki")}, "children": {
                "devices": {"hosts": {APPLIANCE[0]: appliance}},
                "clients": {"hosts": {CLIENT[0]: dict(SSH_VARS, ansible_host=CLIENT[1])}},
            }}}, handle)
        yield inventory
    finally:
        lab("down")


def test_the_appliance_gets_its_certificate_through_its_api_and_the_client_trusts_it(appliance_lab):
    rc, out = client_curl()
    assert rc != 0 and "certificate" in out, out  # negative control: the factory certificate

    _rc, output = playbook(appliance_lab, "playbooks/provision.yml")
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    assert re.search(rf"^{APPLIANCE[0]}\s+issued\s", summary, re.M), summary
    assert recap(output)[APPLIANCE[0]]["unreachable"] == 0
    assert PASSWORD not in output and "PRIVATE KEY" not in output
    assert counters()["uploads"] == 1 and counters()["api_requests"] == 1

    rc, page = client_curl()
    assert rc == 0 and MARKER in page, page
    rc, out = ssh(CLIENT[1], f"openssl s_client -connect {APPLIANCE[1]}:443 -verify_return_error "
                             f"-CApath /etc/ssl/certs -verify_ip {APPLIANCE[1]} </dev/null")
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out


def test_a_second_run_makes_no_request(appliance_lab):
    _rc, output = playbook(appliance_lab, "playbooks/provision.yml")
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap(output).values()), output
    assert counters()["api_requests"] == 1
    rc, page = client_curl()
    assert rc == 0 and MARKER in page, page
