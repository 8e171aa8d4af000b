# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Name constraints on loopback: provision.yml refuses a name outside them, our own certificates pass real clients,
and OpenSSL and Chromium reject, on their own, a certificate minted outside them through a back door.

The lab version (real devices, nginx) is test_lab_name_constraints.py; this one needs no lab.
"""

from __future__ import annotations

import os

import pytest
from conftest import Fleet, recap
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from name_constraint_clients import (
    CHROMIUM_REASON, CHROMIUM_REFUSAL, OPENSSL_REASON, PROBE_PAGE, Server, back_door_leaf, chromium_load,
    nss_home, openssl_connect, openssl_verify, write_pair,
)

import chromium
import fleet_demo  # demo/fleet_demo.py: the endpoints and the TLS clients

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key
from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import expand_preset

OWN_SUFFIX = "plant4.example"
PORT = 18643
BANK = "www.bank.example"


def constrain(fleet, preset="private", domains=(OWN_SUFFIX,)):
    """Give the fleet's CA, when provision.yml creates it, the preset plus the fleet's own suffix (role variables)."""
    networks, domains = expand_preset(preset, (), domains)
    fleet.group_vars.update(authority_permitted_ip_networks=list(networks), authority_permitted_dns_domains=list(domains))
    fleet.write()


def needs_chromium():
    reason = chromium.missing_reason()
    if reason:
        pytest.skip(reason)


def assert_chromium_refuses(result, what):
    ok, _dom, error, verifier = result
    assert not ok and error and CHROMIUM_REFUSAL in error, (what, error)
    assert any(CHROMIUM_REASON in text for text in verifier), (what, verifier)


def assert_openssl_refuses(result, what):
    ok, output = result
    assert not ok and OPENSSL_REASON in output, (what, output)


def test_provision_refuses_names_outside_the_constraints_and_names_the_host(fleet):
    constrain(fleet)
    fleet.host_vars["dev2"]["fleet_pki_dns_names"] = [BANK]
    fleet.host_vars["dev3"]["fleet_pki_ip_addresses"] = ["198.51.100.23"]
    # On-device keys: the CA refuses before the device makes a key for a certificate it cannot have.
    fleet.host_vars["dev4"].update(fleet_pki_key_location="device", fleet_pki_dns_names=["cam-04.bank.example"])
    fleet.write()
    rc, output = fleet.playbook("-e", "fleet_pki_max_fail_percentage=100", check=False)
    assert rc != 0, output
    assert ("host dev2: SAN DNS:www.bank.example is outside the CA's name constraints "
            "(permitted: internal, home.arpa, local, lan, localhost, test, plant4.example)") in output, output
    assert "host dev3: SAN IP:198.51.100.23 is outside the CA's name constraints (permitted: 10.0.0.0/8, " in output
    assert "host dev4: SAN DNS:cam-04.bank.example is outside the CA's name constraints" in output, output
    assert "Traceback" not in output, output
    counts = recap(output)
    assert {name: counts[name]["failed"] for name in fleet.devices} == {
        "dev1": 0, "dev2": 1, "dev3": 1, "dev4": 1, "dev5": 0}, output
    for name in ("dev2", "dev3", "dev4"):  # nothing signed, delivered or generated for a refused host
        directory = os.path.join(fleet.state, "devices", name)
        assert not os.path.exists(directory) or not [entry for entry in os.listdir(directory) if "key" in entry
                                                     or "cert" in entry], (name, os.listdir(directory))
    with open(os.path.join(fleet.pki_dir, "index.txt"), encoding="utf-8") as handle:
        subjects = sorted(line.rstrip("\n").split("\t")[-1] for line in handle if line.strip())
    assert subjects == ["/CN=dev1", "/CN=dev5"], subjects
    for name in ("dev1", "dev5"):
        ok, detail = openssl_verify(os.path.join(fleet.pki_dir, "ca", "ca.crt"), fleet.device_file(name, "cert"),
                                    "-verify_ip", fleet.devices[name])
        assert ok, (name, detail)


@pytest.fixture(scope="module")
def preset_fleet(tmp_path_factory):
    """Five loopback devices provisioned by provision.yml under a CA with the private preset and the own suffix."""
    fleet = Fleet(tmp_path_factory.mktemp("preset-fleet"), {f"dev{n}": f"127.0.0.{20 + n}" for n in range(1, 6)})
    fleet.host_vars["dev1"]["fleet_pki_dns_names"] = [f"dev1.{OWN_SUFFIX}"]
    fleet.host_vars["dev2"]["fleet_pki_dns_names"] = ["dev2.internal", "dev2.lan"]
    constrain(fleet)
    fleet.playbook()
    return fleet


def test_our_own_certificates_pass_real_clients_under_the_preset(preset_fleet, tmp_path):
    ca_path = os.path.join(preset_fleet.pki_dir, "ca", "ca.crt")
    with open(ca_path, "rb") as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    assert ca.extensions.get_extension_for_class(x509.NameConstraints).critical
    fleet_demo.stop(preset_fleet.state)
    devices = fleet_demo.start(preset_fleet.state, preset_fleet.inventory, PORT)
    try:
        rows = fleet_demo.verify(preset_fleet.state, devices, PORT, preset_fleet.bundle)
        assert len(rows) == 15 and all(ok for _name, _client, ok, _detail in rows), rows
        for name, names in (("dev1", [f"dev1.{OWN_SUFFIX}"]), ("dev2", ["dev2.internal", "dev2.lan"])):
            for dns_name in names:
                ok, detail = openssl_verify(ca_path, preset_fleet.device_file(name, "cert"), "-verify_hostname", dns_name)
                assert ok, (name, dns_name, detail)
        needs_chromium()
        home = nss_home(str(tmp_path / "home"), ca_path)
        ok, dom, error, _verifier = chromium_load(f"https://127.0.0.21:{PORT}/", home, str(tmp_path / "ip"))
        assert ok and fleet_demo.MARKER in dom, error
        ok, dom, error, _verifier = chromium_load(f"https://dev1.{OWN_SUFFIX}:{PORT}/", home, str(tmp_path / "dns"),
                                                  resolve=(f"dev1.{OWN_SUFFIX}", "127.0.0.21"))
        assert ok and fleet_demo.MARKER in dom, error
    finally:
        fleet_demo.stop(preset_fleet.state)


def test_a_back_door_certificate_for_a_bank_is_rejected_under_the_preset(preset_fleet, tmp_path):
    ca_path = os.path.join(preset_fleet.pki_dir, "ca", "ca.crt")
    bank_cert, bank_key = write_pair(str(tmp_path / "back-door"), "bank", back_door_leaf(
        ca_path, os.path.join(preset_fleet.pki_dir, "ca", "ca.key"), [("DNS", BANK)]))
    assert_openssl_refuses(openssl_verify(ca_path, bank_cert), "openssl verify")
    server = Server("127.0.0.21", PORT + 1, bank_cert, bank_key)
    try:
        assert_openssl_refuses(openssl_connect("127.0.0.21", PORT + 1, ca_path, "-verify_hostname", BANK,
                                               servername=BANK), "openssl s_client")
        needs_chromium()
        home = nss_home(str(tmp_path / "home"), ca_path)
        assert_chromium_refuses(chromium_load(f"https://{BANK}:{PORT + 1}/", home, str(tmp_path / "bank"),
                                              resolve=(BANK, "127.0.0.21")), BANK)
    finally:
        server.stop()


def test_back_door_certificates_outside_narrow_constraints_are_rejected_and_a_legit_one_is_not(tmp_path):
    """A CA made by fleet.pki's own code for 127.0.0.0/24 and fleet.internal: outside it, 127.0.1.21 and a bank."""
    settings = AuthoritySettings(common_name="Loopback Constrained CA", permitted_ip_networks=("127.0.0.0/24",),
                                 permitted_dns_domains=("fleet.internal",))
    authority, _changed, _notes = ensure_authority(str(tmp_path / "pki"), settings)
    ca_path, ca_key_path = authority.cert_path, authority.key_path
    key = generate_private_key("ec-p256")
    legit = issue(authority, authority.private_key(), key.public_key(),
                  LeafRequest("dev1", (("IP", "127.0.0.21"), ("DNS", "dev1.fleet.internal")), "server", 30))
    legit_pair = (to_pem(legit), key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()).decode())
    pairs = {
        "legit": write_pair(str(tmp_path / "certs"), "legit", legit_pair),
        "bank": write_pair(str(tmp_path / "certs"), "bank", back_door_leaf(ca_path, ca_key_path, [("DNS", BANK)])),
        "outside-ip": write_pair(str(tmp_path / "certs"), "outside-ip",
                                 back_door_leaf(ca_path, ca_key_path, [("IP", "127.0.1.21")])),
        # The same back door inside the constraints: the clients accept it, so the refusals are the constraints' doing.
        "inside": write_pair(str(tmp_path / "certs"), "inside",
                             back_door_leaf(ca_path, ca_key_path, [("IP", "127.0.0.22"), ("DNS", "dev2.fleet.internal")])),
    }
    assert openssl_verify(ca_path, pairs["legit"][0], "-verify_ip", "127.0.0.21")[0]
    assert openssl_verify(ca_path, pairs["inside"][0], "-verify_ip", "127.0.0.22")[0]
    assert_openssl_refuses(openssl_verify(ca_path, pairs["bank"][0]), "openssl verify bank")
    assert_openssl_refuses(openssl_verify(ca_path, pairs["outside-ip"][0]), "openssl verify outside-ip")
    servers = [Server("127.0.0.21", PORT + 2, *pairs["legit"]), Server("127.0.0.21", PORT + 3, *pairs["bank"]),
               Server("127.0.1.21", PORT + 4, *pairs["outside-ip"]), Server("127.0.0.22", PORT + 5, *pairs["inside"])]
    try:
        ok, output = openssl_connect("127.0.0.21", PORT + 2, ca_path, "-verify_ip", "127.0.0.21")
        assert ok, output
        ok, output = openssl_connect("127.0.0.22", PORT + 5, ca_path, "-verify_hostname", "dev2.fleet.internal",
                                     servername="dev2.fleet.internal")
        assert ok, output
        assert_openssl_refuses(openssl_connect("127.0.0.21", PORT + 3, ca_path, "-verify_hostname", BANK,
                                               servername=BANK), "s_client bank")
        assert_openssl_refuses(openssl_connect("127.0.1.21", PORT + 4, ca_path, "-verify_ip", "127.0.1.21"),
                               "s_client outside-ip")
        needs_chromium()
        home = nss_home(str(tmp_path / "home"), ca_path)
        ok, dom, error, _verifier = chromium_load(f"https://dev1.fleet.internal:{PORT + 2}/", home, str(tmp_path / "a"),
                                                  resolve=("dev1.fleet.internal", "127.0.0.21"))
        assert ok and PROBE_PAGE in dom, error
        ok, dom, error, _verifier = chromium_load(f"https://127.0.0.22:{PORT + 5}/", home, str(tmp_path / "b"))
        assert ok and PROBE_PAGE in dom, error
        assert_chromium_refuses(chromium_load(f"https://{BANK}:{PORT + 3}/", home, str(tmp_path / "c"),
                                              resolve=(BANK, "127.0.0.21")), BANK)
        assert_chromium_refuses(chromium_load(f"https://127.0.1.21:{PORT + 4}/", home, str(tmp_path / "d")),
                                "127.0.1.21")
    finally:
        for server in servers:
            server.stop()
