# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Name constraints: the `private` preset, the CA extension, and a refusal before signing that agrees with OpenSSL."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_rollover import next_settings, prepare, rollover_state, switch
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key
from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import (
    PRIVATE_DOMAINS, PRIVATE_NETWORKS, constraints_of, expand_preset, normalise_constraints, openssl_dns_id,
    refuse_outside,
)

NOW = datetime.datetime.now(datetime.timezone.utc)
OWN_SUFFIX = "plant4.example"


def private_authority(directory, domains=(OWN_SUFFIX,)):
    networks, domains = expand_preset("private", (), domains)
    settings = AuthoritySettings(common_name="Private Fleet CA", permitted_ip_networks=networks,
                                 permitted_dns_domains=domains)
    ca, _changed, _notes = ensure_authority(str(directory), settings)
    return ca


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory):
    return private_authority(tmp_path_factory.mktemp("private-pki"))


def back_door_leaf(authority, common_name, sans):
    """A leaf signed straight with the CA key, past every check of ours: what a client alone would decide on."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address(value)) if kind == "IP" else x509.DNSName(value) for kind, value in sans]
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(authority.certificate.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(hours=1)).not_valid_after(NOW + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.SubjectAlternativeName(names), critical=False))
    return builder.sign(authority.private_key(), hashes.SHA256())


def openssl_verify(authority, certificate, tmp_path):
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(to_pem(certificate))
    result = subprocess.run(["openssl", "verify", "-CAfile", authority.cert_path, str(leaf)],
                            capture_output=True, text=True, check=False)
    return result.returncode == 0, result.stdout + result.stderr


def refused(sans, constraints, common_name=None):
    try:
        refuse_outside(sans, constraints, common_name)
    except FleetPkiError as exc:
        return str(exc)
    return None


# --- the preset ---------------------------------------------------------------------------------------------------

def test_the_private_preset_then_the_fleets_own_suffix_each_once():
    networks, domains = expand_preset("private", ["10.214.0.0/24", "10.0.0.0/8"], [OWN_SUFFIX, "internal"])
    assert networks == (*PRIVATE_NETWORKS, "10.214.0.0/24")
    assert domains == (*PRIVATE_DOMAINS, OWN_SUFFIX)
    assert set(PRIVATE_DOMAINS) == {"internal", "home.arpa", "local", "lan", "localhost", "test"}
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "127.0.0.0/8", "::1/128"} <= set(PRIVATE_NETWORKS)


@pytest.mark.parametrize("preset", [None, "", "none"])
def test_no_preset_keeps_only_what_the_user_gave(preset):
    assert expand_preset(preset, ["10.20.0.0/16"], ["fleet.example"]) == (("10.20.0.0/16",), ("fleet.example",))
    assert expand_preset(preset) == ((), ())


def test_an_unknown_preset_is_named_in_the_error():
    with pytest.raises(FleetPkiError, match=r"name_constraints preset 'privat' is not one of none, private"):
        expand_preset("privat")


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0"])
def test_catch_all_networks_are_refused_with_or_without_the_preset(network):
    with pytest.raises(FleetPkiError, match=f"'{network}' permits everything"):
        expand_preset("private", [network])
    with pytest.raises(FleetPkiError, match=f"'{network}' permits everything"):
        normalise_constraints([network])


def test_a_network_with_host_bits_is_refused_by_name():
    with pytest.raises(FleetPkiError, match=r"'10\.214\.0\.11/24' is not valid: .*has host bits set"):
        expand_preset("private", ["10.214.0.11/24"])


def test_the_preset_ca_carries_a_critical_extension_with_exactly_those_subtrees(private_ca):
    extension = private_ca.certificate.extensions.get_extension_for_class(x509.NameConstraints)
    assert extension.critical
    assert extension.value.excluded_subtrees is None
    networks, domains = constraints_of(private_ca.certificate)
    assert [str(network) for network in networks] == list(PRIVATE_NETWORKS)
    assert domains == [*PRIVATE_DOMAINS, OWN_SUFFIX]


def test_a_ca_made_with_the_preset_is_not_reported_as_different_on_the_next_run(private_ca):
    networks, domains = expand_preset("private", (), (OWN_SUFFIX,))
    settings = AuthoritySettings(common_name="Private Fleet CA", permitted_ip_networks=networks,
                                 permitted_dns_domains=domains)
    again, changed, notes = ensure_authority(private_ca.pki_dir, settings)
    assert not changed and notes == [] and again.certificate == private_ca.certificate


# --- what the refusal lets through and what it stops -----------------------------------------------------------

INSIDE = [("IP", "10.214.0.11"), ("IP", "127.0.0.21"), ("IP", "192.168.1.20"), ("IP", "172.31.255.1"),
          ("IP", "100.64.3.4"), ("IP", "169.254.10.1"), ("IP", "fd12:3456::1"), ("IP", "fe80::1"), ("IP", "::1"),
          ("DNS", "cam-05.internal"), ("DNS", "nas.home.arpa"), ("DNS", "printer.local"), ("DNS", "router.lan"),
          ("DNS", "localhost"), ("DNS", "gateway-01.fleet.test"), ("DNS", "cam-05.plant4.example"),
          ("DNS", "plant4.example"), ("DNS", "*.cams.internal")]
OUTSIDE = [("IP", "8.8.8.8"), ("IP", "172.32.0.1"), ("IP", "100.128.0.1"), ("IP", "192.0.2.1"), ("IP", "2001:db8::1"),
           ("DNS", "www.bank.example"), ("DNS", "internal.bank.example"), ("DNS", "evilinternal"),
           ("DNS", "lan.bank.example"), ("DNS", "plant4.example.bank.example"), ("DNS", "*.bank.example")]


@pytest.mark.parametrize("san", INSIDE, ids=lambda san: f"{san[0]}:{san[1]}")
def test_private_fleet_names_pass(private_ca, san):
    assert refused([san], private_ca.constraints) is None


@pytest.mark.parametrize("san", OUTSIDE, ids=lambda san: f"{san[0]}:{san[1]}")
def test_public_names_are_refused_naming_the_san(private_ca, san):
    message = refused([("IP", "10.214.0.11"), san], private_ca.constraints)
    assert message is not None and message.startswith(f"SAN {san[0]}:{san[1]} is outside the CA's name constraints")


def test_a_leading_dot_permits_names_below_the_domain_only():
    constraints = ([], [".fleet.example"])
    assert refused([("DNS", "dev1.fleet.example")], constraints) is None
    assert refused([("DNS", "*.fleet.example")], constraints) is None
    assert "SAN DNS:fleet.example is outside" in refused([("DNS", "fleet.example")], constraints)


def test_a_name_type_without_subtrees_stays_unconstrained():
    assert refused([("DNS", "www.bank.example")], ([ipaddress.ip_network("10.0.0.0/8")], [])) is None
    assert refused([("IP", "8.8.8.8")], ([], ["internal"])) is None


# --- the CN, as OpenSSL reads it ---------------------------------------------------------------------------------

@pytest.mark.parametrize("common_name, dns_id", [
    ("dev1", None), ("cam-05", None), ("cam-05.plant4.example", "cam-05.plant4.example"), ("CAM.Internal", "cam.internal"),
    ("10.214.0.11", "10.214.0.11"), ("a_b.c", "a_b.c"), ("a--b.c", "a--b.c"), ("-a.b", None), ("a-.b", None),
    ("a.-b", None), ("a..b", None), ("a.b.", None), (".a.b", None), ("*.a.b", None), ("a b.c", None), ("", None),
])
def test_which_cns_openssl_reads_as_dns_names(common_name, dns_id):
    assert openssl_dns_id(common_name) == dns_id


def test_a_dotted_cn_outside_the_dns_subtrees_is_refused_when_there_is_no_dns_san(private_ca):
    message = refused([("IP", "10.214.0.11")], private_ca.constraints, "cam-05.bank.example")
    assert message.startswith("CN 'cam-05.bank.example' is outside the CA's name constraints (permitted: internal, ")
    assert "fleet_pki_dns_names" in message
    # An inventory name that is an IP address looks like a DNS name to OpenSSL, too.
    assert refused([("IP", "10.214.0.11")], private_ca.constraints, "10.214.0.11").startswith("CN '10.214.0.11'")
    assert refused([("IP", "10.214.0.11")], private_ca.constraints, "dev1") is None
    assert refused([("IP", "10.214.0.11")], private_ca.constraints, "cam-05.internal") is None
    # With a DNS SAN the CN is not checked; with no DNS subtree there is nothing to check it against.
    assert refused([("IP", "10.214.0.11"), ("DNS", "cam-05.internal")], private_ca.constraints, "10.214.0.11") is None
    assert refused([("IP", "10.214.0.11")], ([ipaddress.ip_network("10.0.0.0/8")], []), "cam-05.bank.example") is None


# --- our verdict is OpenSSL's verdict ----------------------------------------------------------------------------

AGREEMENT = [
    ("dev1", [("IP", "10.214.0.11")]),
    ("dev1", [("IP", "10.214.0.11"), ("DNS", "dev1.plant4.example")]),
    ("dev1", [("DNS", "www.bank.example")]),
    ("dev1", [("IP", "198.51.100.11")]),
    ("dev1", [("IP", "10.214.0.11"), ("IP", "2001:db8::11")]),
    ("dev1", [("DNS", "*.cams.internal")]),
    ("dev1", [("DNS", "*.bank.example")]),
    ("cam-05.plant4.example", [("IP", "10.214.0.11")]),
    ("cam-05.bank.example", [("IP", "10.214.0.11")]),
    ("cam-05.bank.example", [("IP", "10.214.0.11"), ("DNS", "cam-05.internal")]),
    ("10.214.0.11", [("IP", "10.214.0.11")]),
    ("cam_05", [("IP", "10.214.0.11")]),
]


@pytest.mark.parametrize("common_name, sans", AGREEMENT)
def test_openssl_rejects_exactly_what_we_refuse(private_ca, tmp_path, common_name, sans):
    """Minted through the back door, so OpenSSL alone decides; it must decide as refuse_outside does."""
    ours = refused(sans, private_ca.constraints, common_name)
    accepted, output = openssl_verify(private_ca, back_door_leaf(private_ca, common_name, sans), tmp_path)
    assert accepted == (ours is None), (ours, output)
    if not accepted:
        assert "permitted subtree violation" in output, output


def test_leaves_issued_under_the_preset_verify_with_openssl(private_ca, tmp_path):
    key = generate_private_key("ec-p256")
    request = LeafRequest("dev1", (("IP", "10.214.0.11"), ("IP", "fd00::11"), ("DNS", "dev1.plant4.example")), "server", 365)
    certificate = issue(private_ca, private_ca.private_key(), key.public_key(), request)
    leaf = tmp_path / "issued.pem"
    leaf.write_text(to_pem(certificate))
    for check in (["-verify_ip", "10.214.0.11"], ["-verify_ip", "fd00::11"], ["-verify_hostname", "dev1.plant4.example"]):
        result = subprocess.run(["openssl", "verify", "-CAfile", private_ca.cert_path, *check, str(leaf)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, (check, result.stdout + result.stderr)


# --- an existing CA gains constraints only by a rollover to a new CA -------------------------------------------

def test_an_existing_ca_keeps_its_constraints_and_a_prepared_next_ca_brings_new_ones(authority, now):
    """docs/name-constraints.md: the constrained CA is made in next/ first, then rotate_ca takes over from prepare."""
    pki_dir = authority.pki_dir
    networks, domains = expand_preset("private", (), (OWN_SUFFIX,))
    wanted = AuthoritySettings(common_name="Test Fleet CA 2026-11", permitted_ip_networks=networks,
                               permitted_dns_domains=domains)
    # Asking the existing CA for constraints changes nothing in it: it is reported, never acted on.
    kept, changed, notes = ensure_authority(pki_dir, dataclasses.replace(wanted, common_name="Test Fleet CA"))
    assert not changed and kept.certificate == authority.certificate and constraints_of(kept.certificate) is None
    assert "the existing CA has other name constraints than requested" in notes
    prepared, changed, _notes = ensure_authority(os.path.join(pki_dir, "next"), wanted)
    assert changed
    again, changed = prepare(pki_dir, next_settings(authority, now), now=now)  # the step finds it and keeps it
    assert not changed and again.certificate == prepared.certificate
    assert switch(pki_dir) is True
    current = rollover_state(pki_dir)["current"]
    assert [str(network) for network in constraints_of(current.certificate)[0]] == list(networks)
    with pytest.raises(FleetPkiError, match="SAN DNS:www.bank.example is outside"):
        refuse_outside((("DNS", "www.bank.example"),), current.constraints)
