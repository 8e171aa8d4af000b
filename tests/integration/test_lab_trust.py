# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trust stores in the lab: the trust role installs and removes the fleet CA on real client machines.

One device (dev1, Debian 12) serves HTTPS with a certificate from the fleet CA. Two clients, dev2
(Debian 13) and dev3 (Debian 12), get the CA in the stores system, bundle, nss and java through
playbooks/provision.yml. Every store is proven by a real client on the client machine, before the
install (it must fail), after it, and after the removal (it must fail again):

- system: curl and Python's default ``ssl`` context;
- bundle: Python with only the bundle file as its CA file;
- nss: ``tstclnt``, NSS's own TLS client, on root's Chromium database and on the Firefox profile of
  a desktop user (found through ``profiles.ini``), and headless Chromium on the control node reading
  a copy of root's database;
- java: a compiled ``Client.java`` on the client's JVM with its default keystore.

The tests run in order and build on each other.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from conftest import REPO, recap
from lab_helpers import KEY, PREPARE, SSH_OPTIONS, SSH_VARS, lab, missing_lab_tools, playbook, ssh

import chromium

CLIENT_JAVA = os.path.join(REPO, "tests", "integration", "java", "Client.java")
DEVICE = ("dev1", "10.214.0.11")
CLIENTS = {"dev2": "10.214.0.12", "dev3": "10.214.0.13"}  # Debian 13, Debian 12 (lab.py alternates suites)
URL = f"https://{DEVICE[1]}/"
MARKER = "fleet.pki lab device"
BUNDLE = "/etc/fleet/ca-bundle.pem"
NSSDB = "/root/.pki/nssdb"
# A desktop user with a Firefox profile, found through profiles.ini by nss_users.
FIREFOX_USER = "fleetff"
FIREFOX_PROFILE = f"/home/{FIREFOX_USER}/.mozilla/firefox/k3x9.default-release"
FIREFOX_LAYOUT = (
    f"useradd -m -s /bin/bash {FIREFOX_USER} && "
    f"runuser -u {FIREFOX_USER} -- mkdir -p {FIREFOX_PROFILE} && "
    f"runuser -u {FIREFOX_USER} -- certutil -N -d sql:{FIREFOX_PROFILE} --empty-password && "
    f"printf '[Profile0]\\nName=default-release\\nIsRelative=1\\nPath=k3x9.default-release\\nDefault=1\\n' | "
    f"runuser -u {FIREFOX_USER} -- tee /home/{FIREFOX_USER}/.mozilla/firefox/profiles.ini >/dev/null"
)
STORES = ["system", "bundle", "nss", "java"]

# Python clients, run on the client machine; exit 0 and print the page on success.
PYTHON_DEFAULT = (
    "import ssl, sys, urllib.request; "
    "print(urllib.request.urlopen(sys.argv[1], context=ssl.create_default_context(), timeout=10).read().decode())"
)
# With cafile, create_default_context loads that file only, not the system store.
PYTHON_BUNDLE = (
    "import ssl, sys, urllib.request; "
    "ctx = ssl.create_default_context(cafile=sys.argv[2]); "
    "print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10).read().decode())"
)

# Runs the trust role on the clients and saves each client's registered result on the controller.
TRUST_PLAYBOOK = """
- name: Trust role on the clients, results saved
  hosts: clients
  gather_facts: false
  roles:
    - role: fleet.pki.trust
  post_tasks:
    - name: Save the result of the trust role
      ansible.builtin.copy:
        content: "{{ trust_anchor_result | to_json }}"
        dest: "{{ results_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
      diff: false
"""


pytestmark = pytest.mark.skipif(missing_lab_tools("javac") is not None, reason=str(missing_lab_tools("javac")))


class TrustLab:
    def __init__(self, root):
        self.root = str(root)
        self.inventory = os.path.join(self.root, "hosts.yml")
        self.results = os.path.join(self.root, "results")
        os.makedirs(self.results)
        inventory = {"all": {
            "vars": dict(SSH_VARS, fleet_pki_dir=os.path.join(self.root, "pki"), fleet_pki_reload_services=["nginx"],
                         fleet_pki_verify_port=443),
            "children": {
                "devices": {"hosts": {DEVICE[0]: {"ansible_host": DEVICE[1]}}},
                "clients": {
                    "vars": {"fleet_pki_trust_stores": STORES, "fleet_pki_bundle_path": BUNDLE,
                             "fleet_pki_nss_users": ["root", FIREFOX_USER]},
                    "hosts": {name: {"ansible_host": address} for name, address in CLIENTS.items()},
                },
            },
        }}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle)
        self.public_roots = {}  # client: how many certificates its bundle held before the install
        self.trust_playbook = os.path.join(self.root, "trust.yml")
        with open(self.trust_playbook, "w", encoding="utf-8") as handle:
            handle.write(TRUST_PLAYBOOK)

    def playbook(self, path, *args):
        return playbook(self.inventory, path, *args)[1]

    def trust(self, state, *args):
        """Run the trust role on the clients; return ({client: registered result}, output)."""
        for name in os.listdir(self.results):
            os.unlink(os.path.join(self.results, name))
        output = self.playbook(self.trust_playbook, "-e", f"trust_state={state}", "-e", f"results_dir={self.results}",
                               *args)
        results = {}
        for client in CLIENTS:
            with open(os.path.join(self.results, client + ".json"), encoding="utf-8") as handle:
                results[client] = json.load(handle)
        return results, output

    def on(self, client, command, stdin=None):
        """Run a shell command on a client over ssh; return (rc, stdout + stderr)."""
        return ssh(CLIENTS[client], command, stdin=stdin, timeout=120)

    def clients_see(self, client):
        """What each real client on the machine makes of the device: {store: (rc, output)}."""
        return {
            "system/curl": self.on(client, f"curl -sS --max-time 10 {URL}"),
            "system/python": self.on(client, f"python3 -c '{PYTHON_DEFAULT}' {URL}"),
            "bundle/python": self.on(client, f"python3 -c '{PYTHON_BUNDLE}' {URL} {BUNDLE}"),
            "nss/tstclnt": self.on(client, f"tstclnt -h {DEVICE[1]} -p 443 -d sql:{NSSDB} -Q </dev/null"),
            "nss/firefox-profile": self.on(client, f"tstclnt -h {DEVICE[1]} -p 443 -d sql:{FIREFOX_PROFILE} -Q </dev/null"),
            "java/Client": self.on(client, "java -cp /root/fleet-java Client " + URL),
        }

    def certificates_in_bundle(self, client):
        rc, out = self.on(client, f"grep -c 'BEGIN CERTIFICATE' {BUNDLE}")
        assert rc == 0, out
        return int(out)

    def chromium_with_database_of(self, client, home):
        """Load the device page in headless Chromium on the controller, with the client's NSS database."""
        os.makedirs(home)
        tar = subprocess.run(["ssh", "-i", KEY, *SSH_OPTIONS, f"root@{CLIENTS[client]}", "tar -C /root -c .pki"],
                             capture_output=True, check=True, timeout=60)
        subprocess.run(["tar", "-C", home, "-x"], input=tar.stdout, check=True)
        return chromium.load(URL, home, os.path.join(home, "profile"))


def _compiled_client(directory):
    """Client.class, compiled here for Java 17 so both Debian 12 (17) and Debian 13 (21) run it."""
    subprocess.run(["javac", "--release", "17", "-d", directory, CLIENT_JAVA], check=True, capture_output=True)
    return os.path.join(directory, "Client.class")


@pytest.fixture(scope="module")
def trust_lab(tmp_path_factory):
    lab("up", "3")
    try:
        root = tmp_path_factory.mktemp("lab-trust")
        trust_lab = TrustLab(root)
        trust_lab.playbook(PREPARE)
        with open(_compiled_client(str(root / "java")), "rb") as handle:
            client_class = handle.read()
        for client in CLIENTS:
            # An empty Chromium database, and a bundle that already holds the public roots: the negative
            # controls then fail for the right reason, and the install must leave the rest alone.
            rc, out = trust_lab.on(client, f"mkdir -p {NSSDB} /root/fleet-java {os.path.dirname(BUNDLE)} && "
                                           f"certutil -N -d sql:{NSSDB} --empty-password && "
                                           f"cp /etc/ssl/certs/ca-certificates.crt {BUNDLE} && {FIREFOX_LAYOUT}")
            assert rc == 0, out
            rc, out = trust_lab.on(client, "cat > /root/fleet-java/Client.class", stdin=client_class)
            assert rc == 0, out
            trust_lab.public_roots[client] = trust_lab.certificates_in_bundle(client)
        yield trust_lab
    finally:
        lab("down")


def _assert_all_refuse(seen, client, when):
    """Every client fails, and for the reason that the CA is not trusted."""
    reasons = {
        "system/curl": (60, ("SSL certificate problem",)),
        "system/python": (1, ("CERTIFICATE_VERIFY_FAILED",)),
        "bundle/python": (1, ("CERTIFICATE_VERIFY_FAILED",)),
        # The device sends its full chain, so NSS sees the CA and calls it untrusted rather than unknown.
        "nss/tstclnt": (None, ("SEC_ERROR_UNTRUSTED_ISSUER", "SEC_ERROR_UNKNOWN_ISSUER")),
        "nss/firefox-profile": (None, ("SEC_ERROR_UNTRUSTED_ISSUER", "SEC_ERROR_UNKNOWN_ISSUER")),
        "java/Client": (3, ("PKIX path building failed",)),
    }
    for name, (rc, output) in seen.items():
        expected_rc, expected_texts = reasons[name]
        assert rc != 0 and (expected_rc is None or rc == expected_rc), (client, when, name, rc, output)
        assert any(text in output for text in expected_texts), (client, when, name, output)


def _assert_all_trust(seen, client):
    for name, (rc, output) in seen.items():
        assert rc == 0, (client, name, rc, output)
        if not name.startswith("nss/"):  # tstclnt stops after the handshake (-Q); the others print the page
            assert MARKER in output, (client, name, output)


def test_before_the_install_every_client_refuses_the_device(trust_lab):
    trust_lab.playbook("playbooks/provision.yml", "--limit", DEVICE[0])
    rc, out = trust_lab.on("dev2", "curl -sS --max-time 10 --insecure " + URL)
    assert rc == 0 and MARKER in out, out  # the device serves; only trust is missing
    for client in CLIENTS:
        _assert_all_refuse(trust_lab.clients_see(client), client, "before the install")


def test_check_mode_reports_every_store_and_changes_nothing(trust_lab):
    results, _output = trust_lab.trust("present", "--check", "--diff")
    for client, result in results.items():
        assert result["changed"] is True, result
        assert list(result["stores"]) == STORES, result
        assert all(entry["changed"] for entry in result["stores"].values()), (client, result)
        _assert_all_refuse(trust_lab.clients_see(client), client, "after check mode")


def test_provision_installs_the_ca_and_every_client_trusts_the_device(trust_lab, tmp_path):
    output = trust_lab.playbook("playbooks/provision.yml")
    for client in CLIENTS:
        assert recap(output)[client]["failed"] == 0, output
        _assert_all_trust(trust_lab.clients_see(client), client)
        # The Firefox profile still belongs to its user.
        rc, out = trust_lab.on(client, f"stat -c %U {FIREFOX_PROFILE}/cert9.db {FIREFOX_PROFILE}/key4.db")
        assert rc == 0 and out.split() == [FIREFOX_USER, FIREFOX_USER], out
        # The bundle kept the public roots that were in it, and gained one certificate.
        assert trust_lab.certificates_in_bundle(client) == trust_lab.public_roots[client] + 1
    reason = chromium.missing_reason()
    if reason:
        pytest.skip(reason)
    ok, dom, error = trust_lab.chromium_with_database_of("dev2", str(tmp_path / "chromium-home"))
    assert ok and MARKER in dom, error


def test_a_second_provision_changes_nothing(trust_lab):
    output = trust_lab.playbook("playbooks/provision.yml")
    counts = recap(output)
    assert all(counts[host]["changed"] == 0 and counts[host]["failed"] == 0 for host in (DEVICE[0], *CLIENTS)), output


def test_removal_takes_the_ca_out_of_every_store_and_every_client_refuses_again(trust_lab, tmp_path):
    results, _output = trust_lab.trust("absent", "--diff")
    for client, result in results.items():
        assert {name: entry["changed"] for name, entry in result["stores"].items()} == dict.fromkeys(STORES, True)
        # On Debian the java store also removes the alias the ca-certificates-java hook made.
        _assert_all_refuse(trust_lab.clients_see(client), client, "after the removal")
        assert trust_lab.certificates_in_bundle(client) == trust_lab.public_roots[client]  # only ours went
    reason = chromium.missing_reason()
    if reason:
        pytest.skip(reason)
    ok, _dom, error = trust_lab.chromium_with_database_of("dev3", str(tmp_path / "chromium-home"))
    assert not ok and "ERR_CERT_AUTHORITY_INVALID" in error, error


def test_a_second_removal_changes_nothing(trust_lab):
    results, _output = trust_lab.trust("absent")
    for result in results.values():
        assert result["changed"] is False and not any(entry["changed"] for entry in result["stores"].values()), result
