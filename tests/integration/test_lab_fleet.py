# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet in the lab: real devices (systemd-nspawn, nginx), real clients, a real browser.

One lab for the module: four devices and one client device, plus the control node itself as a
browser client whose NSS database gets the CA from the trust role. The tests run in order and build
on each other: provision, browser, re-address, then a rollout that a broken device stops.
"""

from __future__ import annotations

import os
import re
import sys

import pytest
import yaml
from conftest import REPO, recap
from lab_helpers import PREPARE, SSH_VARS, lab, missing_lab_tools, playbook, ssh

import chromium

ARTIFACTS = os.path.join(REPO, "tests", "output", "artifacts")
DEVICES = {f"dev{n}": f"10.214.0.{10 + n}" for n in range(1, 5)}
CLIENT = ("dev5", "10.214.0.15")
MARKER = "fleet.pki lab device"


pytestmark = pytest.mark.skipif(missing_lab_tools() is not None, reason=str(missing_lab_tools()))


class LabFleet:
    def __init__(self, root):
        self.root = str(root)
        self.inventory = os.path.join(self.root, "hosts.yml")
        self.home = os.path.join(self.root, "browser-home")
        self.devices = dict(DEVICES)
        self.device_vars = {}
        self.write()

    def write(self):
        inventory = {"all": {
            "vars": {"fleet_pki_dir": os.path.join(self.root, "pki"), "fleet_pki_reload_services": ["nginx"],
                     "fleet_pki_verify_port": 443},
            "children": {
                "devices": {"vars": dict(SSH_VARS, **self.device_vars),
                            "hosts": {name: {"ansible_host": address} for name, address in self.devices.items()}},
                "clients": {"hosts": {
                    CLIENT[0]: dict(SSH_VARS, ansible_host=CLIENT[1]),
                    # The control node as a desktop: Chromium's NSS database of a test HOME.
                    "browser": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                "fleet_pki_trust_stores": ["nss"],
                                "fleet_pki_nss_databases": [os.path.join(self.home, ".pki", "nssdb")]},
                }},
            },
        }}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle)

    def playbook(self, path, *args, check=True):
        return playbook(self.inventory, path, *args, check=check)

    def on(self, host, command):
        """Run a shell command on a lab host over ssh; return (rc, output)."""
        return ssh(CLIENT[1] if host == CLIENT[0] else self.devices[host], command, timeout=60)

    def summary(self, output):
        return output.split("FLEET.PKI SUMMARY", 1)[1]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    lab("up", "5", "--cryptography", "2")
    try:
        fleet = LabFleet(tmp_path_factory.mktemp("lab-fleet"))
        fleet.playbook(PREPARE)
        yield fleet
    finally:
        lab("down")


def test_provision_converges_and_reruns_with_no_change(fleet):
    _rc, output = fleet.playbook("playbooks/provision.yml")
    summary = fleet.summary(output)
    for name in DEVICES:
        assert re.search(rf"^{name}\s+renewed\s+.*not signed by the current CA", summary, re.M), summary
    _rc, output = fleet.playbook("playbooks/provision.yml")
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap(output).values()), output
    for name, address in DEVICES.items():  # the client device verifies every device with its system store
        rc, page = fleet.on(CLIENT[0], f"curl -sS --max-time 10 https://{address}/")
        assert rc == 0 and MARKER in page, (name, page)


def test_chromium_trusts_the_devices_through_the_trust_role(fleet, tmp_path):
    reason = chromium.missing_reason()
    if reason:
        pytest.skip(reason)
    url = f"https://{DEVICES['dev1']}/"
    ok, dom, error = chromium.load(url, fleet.home, str(tmp_path / "profile"))
    assert ok and MARKER in dom, error
    os.makedirs(ARTIFACTS, exist_ok=True)
    chromium.screenshot(url, fleet.home, os.path.join(ARTIFACTS, "lab-chromium-dev1.png"))
    stranger = tmp_path / "stranger-home"
    stranger.mkdir()
    ok, _dom, error = chromium.load(url, str(stranger), str(tmp_path / "stranger-profile"))
    assert not ok and "ERR_CERT_AUTHORITY_INVALID" in error, error


def test_readdress_reissues_one_device_and_its_service_reloads(fleet):
    lab("readdress", "dev2", "10.214.0.42")
    fleet.devices["dev2"] = "10.214.0.42"
    fleet.write()
    _rc, output = fleet.playbook("playbooks/provision.yml")
    summary = fleet.summary(output)
    assert re.search(r"^dev2\s+renewed\s+SANs differ: \+IP:10.214.0.42 -IP:10.214.0.12$", summary, re.M), summary
    assert all(re.search(rf"^{name}\s+kept$", summary, re.M) for name in ("dev1", "dev3", "dev4")), summary
    # The role's served-certificate check passed, so nginx serves the new certificate; a client confirms.
    rc, page = fleet.on(CLIENT[0], "curl -sS --max-time 10 https://10.214.0.42/")
    assert rc == 0 and MARKER in page, page


def test_a_device_that_fails_to_reload_stops_the_rollout(fleet):
    rc, out = fleet.on("dev3", "echo 'this is not nginx configuration;' > /etc/nginx/conf.d/zz-broken.conf")
    assert rc == 0, out
    before = fleet.on("dev4", "sha256sum /etc/fleet-pki/cert.pem")[1]
    fleet.device_vars["fleet_pki_profile"] = "server_client"  # every device has a reason to be re-issued
    fleet.write()
    rc, output = fleet.playbook("playbooks/provision.yml", "-e", "fleet_pki_batches=1", "-e", "device_verify_retries=1",
                                check=False)
    assert rc != 0, output
    summary = fleet.summary(output)
    assert re.search(r"^dev1\s+renewed\s+profile differs: server -> server_client$", summary, re.M), summary
    assert re.search(r"^dev3\s+FAILED ", summary, re.M), summary
    assert re.search(r"^dev4\s+not reached", summary, re.M), summary
    assert fleet.on("dev4", "sha256sum /etc/fleet-pki/cert.pem")[1] == before
