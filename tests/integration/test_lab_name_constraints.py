# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Name constraints in the lab: a real device (nginx) under a CA with the private preset, checked by headless
Chromium and OpenSSL on the control node.

provision.yml creates the CA (the `private` preset plus the fleet's own suffix), certifies dev1 for its IP and
its DNS name, and the trust role puts the CA into the NSS database of a browser HOME. Then a test-only back door
signs, with the CA key and none of our checks, a certificate for www.bank.example and one for 198.51.100.11
(an address outside the preset, given to dev1 for this test). nginx on dev1 serves them. Chromium and OpenSSL
must accept the legitimate certificate and reject both back-door ones because of the name constraints: the
constraints protect a browser even if our own refusal before signing were bypassed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from lab_helpers import PREPARE, SSH_VARS, lab, missing_lab_tools, playbook, ssh
from name_constraint_clients import (
    CHROMIUM_REASON, CHROMIUM_REFUSAL, OPENSSL_REASON, back_door_leaf, chromium_load, openssl_connect, openssl_verify,
)

import chromium
from cryptography import x509

from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import expand_preset

DEVICE, ADDRESS = "dev1", "10.214.0.11"
DEVICE_NETNS = "pkilab-ns1"  # tests/lab/lab.py names the network namespace of device i pkilab-ns<i>
OWN_SUFFIX = "plant4.example"
DEVICE_NAME = f"dev1.{OWN_SUFFIX}"
BANK = "www.bank.example"
OUTSIDE_IP = "198.51.100.11"  # TEST-NET-2 (RFC 5737): never routed on the internet; dev1's second address here
MARKER = "fleet.pki lab device"
BACK_DOOR_PORTS = {"bank": 8443, "outside-ip": 8444}
BACK_DOOR_SITE = """
server {{
    listen {port} ssl;
    ssl_certificate /etc/back-door/{name}.crt;
    ssl_certificate_key /etc/back-door/{name}.key;
    location / {{
        default_type text/html;
        return 200 "<html><body><h1>back door</h1></body></html>\\n";
    }}
}}
"""

pytestmark = pytest.mark.skipif(missing_lab_tools() is not None, reason=str(missing_lab_tools()))


class ConstraintLab:
    def __init__(self, root):
        self.root = str(root)
        self.inventory = os.path.join(self.root, "hosts.yml")
        self.home = os.path.join(self.root, "browser-home")
        self.ca_path = os.path.join(self.root, "pki", "ca", "ca.crt")
        self.ca_key_path = os.path.join(self.root, "pki", "ca", "ca.key")
        networks, domains = expand_preset("private", (), (OWN_SUFFIX,))
        inventory = {"all": {
            "vars": {"fleet_pki_dir": os.path.join(self.root, "pki"), "fleet_pki_reload_services": ["nginx"],
                     "fleet_pki_verify_port": 443, "authority_permitted_ip_networks": list(networks),
                     "authority_permitted_dns_domains": list(domains)},
            "children": {
                "devices": {"vars": SSH_VARS,
                            "hosts": {DEVICE: {"ansible_host": ADDRESS, "fleet_pki_dns_names": [DEVICE_NAME]}}},
                "clients": {"hosts": {
                    # The control node as a desktop: Chromium's NSS database of a test HOME, filled by the trust role.
                    "browser": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                "fleet_pki_trust_stores": ["nss"],
                                "fleet_pki_nss_databases": [os.path.join(self.home, ".pki", "nssdb")]},
                }},
            },
        }}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle)
        self.bridge = None
        self.bank_cert = self.outside_cert = None  # the back-door certificates, kept on the control node

    def playbook(self, path, *args):
        return playbook(self.inventory, path, *args)[1]

    def on_device(self, command, stdin=None):
        rc, output = ssh(ADDRESS, command, stdin=stdin, timeout=60)
        assert rc == 0, (command, output)
        return output

    def serve_back_door(self, name, sans):
        """Mint a certificate with the CA key alone and have nginx on dev1 serve it on its own port."""
        certificate, key = back_door_leaf(self.ca_path, self.ca_key_path, sans)
        path = os.path.join(self.root, name + ".crt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(certificate)
        self.on_device(f"mkdir -p /etc/back-door && cat > /etc/back-door/{name}.crt", stdin=certificate)
        self.on_device(f"umask 077 && cat > /etc/back-door/{name}.key", stdin=key)
        site = BACK_DOOR_SITE.format(port=BACK_DOOR_PORTS[name], name=name)
        self.on_device(f"cat > /etc/nginx/conf.d/back-door-{name}.conf", stdin=site)
        return path

    def give_outside_address(self):
        """dev1 answers on OUTSIDE_IP too; the control node reaches it over the lab bridge only."""
        subprocess.run(["ip", "-n", DEVICE_NETNS, "addr", "add", f"{OUTSIDE_IP}/32", "dev", "host0"], check=True)
        addresses = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
        self.bridge = next(line.split()[1] for line in addresses.splitlines() if " 10.214.0.1/24 " in line)
        subprocess.run(["ip", "route", "add", f"{OUTSIDE_IP}/32", "dev", self.bridge], check=True)

    def remove_outside_route(self):
        if self.bridge:
            subprocess.run(["ip", "route", "del", f"{OUTSIDE_IP}/32", "dev", self.bridge], check=False,
                           capture_output=True)


@pytest.fixture(scope="module")
def constraint_lab(tmp_path_factory):
    lab("up", "1")
    constraint_lab = None
    try:
        constraint_lab = ConstraintLab(tmp_path_factory.mktemp("lab-name-constraints"))
        constraint_lab.playbook(PREPARE)
        constraint_lab.playbook("playbooks/provision.yml")
        constraint_lab.bank_cert = constraint_lab.serve_back_door("bank", [("DNS", BANK)])
        constraint_lab.outside_cert = constraint_lab.serve_back_door("outside-ip", [("IP", OUTSIDE_IP)])
        constraint_lab.on_device("nginx -t && systemctl reload nginx")
        constraint_lab.give_outside_address()
        yield constraint_lab
    finally:
        if constraint_lab is not None:
            constraint_lab.remove_outside_route()
        lab("down")


def needs_chromium():
    reason = chromium.missing_reason()
    if reason:
        pytest.skip(reason)


def assert_openssl_refuses(result, what):
    ok, output = result
    assert not ok and OPENSSL_REASON in output, (what, output)


def assert_chromium_refuses(result, what):
    ok, _dom, error, verifier = result
    assert not ok and error and CHROMIUM_REFUSAL in error, (what, error)
    assert any(CHROMIUM_REASON in text for text in verifier), (what, verifier)


def test_the_device_certificate_from_the_constrained_ca_passes_chromium_and_openssl(constraint_lab, tmp_path):
    with open(constraint_lab.ca_path, "rb") as handle:
        constraints = x509.load_pem_x509_certificate(handle.read()).extensions.get_extension_for_class(
            x509.NameConstraints)
    assert constraints.critical and x509.DNSName(OWN_SUFFIX) in constraints.value.permitted_subtrees
    ok, output = openssl_connect(ADDRESS, 443, constraint_lab.ca_path, "-verify_ip", ADDRESS)
    assert ok, output
    ok, output = openssl_connect(ADDRESS, 443, constraint_lab.ca_path, "-verify_hostname", DEVICE_NAME,
                                 servername=DEVICE_NAME)
    assert ok, output
    needs_chromium()
    ok, dom, error, _verifier = chromium_load(f"https://{ADDRESS}/", constraint_lab.home, str(tmp_path / "ip"))
    assert ok and MARKER in dom, error
    ok, dom, error, _verifier = chromium_load(f"https://{DEVICE_NAME}/", constraint_lab.home, str(tmp_path / "dns"),
                                              resolve=(DEVICE_NAME, ADDRESS))
    assert ok and MARKER in dom, error


def test_a_back_door_certificate_for_a_bank_is_rejected(constraint_lab, tmp_path):
    port = BACK_DOOR_PORTS["bank"]
    assert_openssl_refuses(openssl_verify(constraint_lab.ca_path, constraint_lab.bank_cert), "openssl verify")
    # The verify error proves the handshake reached dev1's nginx and its back-door certificate.
    assert_openssl_refuses(openssl_connect(ADDRESS, port, constraint_lab.ca_path, "-verify_hostname", BANK,
                                           servername=BANK), "openssl s_client")
    needs_chromium()
    assert_chromium_refuses(chromium_load(f"https://{BANK}:{port}/", constraint_lab.home, str(tmp_path / "bank"),
                                          resolve=(BANK, ADDRESS)), BANK)


def test_a_back_door_certificate_for_an_address_outside_the_preset_is_rejected(constraint_lab, tmp_path):
    port = BACK_DOOR_PORTS["outside-ip"]
    assert_openssl_refuses(openssl_verify(constraint_lab.ca_path, constraint_lab.outside_cert), "openssl verify")
    assert_openssl_refuses(openssl_connect(OUTSIDE_IP, port, constraint_lab.ca_path, "-verify_ip", OUTSIDE_IP),
                           "openssl s_client")
    needs_chromium()
    assert_chromium_refuses(chromium_load(f"https://{OUTSIDE_IP}:{port}/", constraint_lab.home, str(tmp_path / "ip")),
                            OUTSIDE_IP)
