# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import deferred_writes
from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_index import lists_valid, openssl_subject, read_index
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import held_certificate, to_pem
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue, leaf_subject
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import RenewBefore, Wanted, reasons_to_issue

SANS = (("IP", "10.20.0.5"), ("IP", "2001:db8::5"), ("DNS", "cam-05.fleet.example"))


def sign(authority, profile="server", key_type="ec-p256", sans=SANS, days=365, now=None):
    key = generate_private_key(key_type)
    request = LeafRequest("cam-05", sans, profile, days)
    return key, issue(authority, authority.private_key(), key.public_key(), request, now)


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


@pytest.mark.parametrize("profile, ekus", [
    ("server", [ExtendedKeyUsageOID.SERVER_AUTH]),
    ("client", [ExtendedKeyUsageOID.CLIENT_AUTH]),
    ("server_client", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
])
def test_profiles_set_the_extensions_clients_check(authority, profile, ekus):
    _key, cert = sign(authority, profile)
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == ekus
    basic = ext(cert, x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.20.0.5"), ipaddress.ip_address("2001:db8::5")]
    assert san.get_values_for_type(x509.DNSName) == ["cam-05.fleet.example"]
    ski = ext(authority.certificate, x509.SubjectKeyIdentifier).value.digest
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski
    assert ext(cert, x509.SubjectKeyIdentifier)
    assert cert.signature_hash_algorithm.name == "sha256"


def test_rsa_leaves_add_key_encipherment(authority):
    _key, cert = sign(authority, key_type="rsa-2048")
    assert ext(cert, x509.KeyUsage).value.key_encipherment


def test_serials_are_128_random_bits_and_recorded_in_the_index(authority):
    serials = {sign(authority)[1].serial_number for _number in range(5)}
    assert len(serials) == 5
    assert all(2 ** 120 <= serial < 2 ** 128 for serial in serials)
    entries = read_index(authority.pki_dir)
    assert {int(entry.serial, 16) for entry in entries} == serials
    assert all(entry.status == "V" and entry.subject == "/CN=cam-05" for entry in entries)


def test_validity_and_backdating(authority, now):
    _key, cert = sign(authority, days=30, now=now)
    assert cert.not_valid_after_utc - now == datetime.timedelta(days=30)
    assert now - cert.not_valid_before_utc == datetime.timedelta(hours=1)


def test_a_leaf_never_outlives_its_ca(authority, now):
    _key, cert = sign(authority, days=825, now=authority.certificate.not_valid_after_utc - datetime.timedelta(days=10))
    assert cert.not_valid_after_utc == authority.certificate.not_valid_after_utc


def test_san_outside_the_name_constraints_is_refused_before_signing(constrained_authority):
    with pytest.raises(FleetPkiError, match=r"SAN IP:192.0.2.1 is outside the CA's name constraints \(permitted: 10.20.0.0/16\)"):
        sign(constrained_authority, sans=(("IP", "192.0.2.1"),))
    with pytest.raises(FleetPkiError, match="SAN DNS:evil.example is outside"):
        sign(constrained_authority, sans=(("IP", "10.20.0.1"), ("DNS", "evil.example")))
    assert read_index(constrained_authority.pki_dir) == []


def test_an_ipv6_san_is_outside_ipv4_only_constraints(constrained_authority):
    # OpenSSL matches iPAddress names against all IP subtrees, of either version.
    with pytest.raises(FleetPkiError, match="SAN IP:2001:db8::5 is outside"):
        sign(constrained_authority)


def test_names_inside_the_constraints_verify_with_openssl(constrained_authority, tmp_path):
    _key, cert = sign(constrained_authority, sans=(("IP", "10.20.0.5"), ("DNS", "cam-05.fleet.example")))
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(to_pem(cert))
    result = subprocess.run(["openssl", "verify", "-CAfile", constrained_authority.cert_path, str(leaf)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_a_fresh_leaf_is_kept_and_a_foreign_ca_is_noticed(authority, tmp_path, now):
    _key, cert = sign(authority, now=now)
    wanted = Wanted(SANS, "cam-05", "server", "ec-p256", RenewBefore(percent=33))
    held, parsed = held_certificate(to_pem(cert), "matches", authority.certificate)
    assert parsed.serial_number == cert.serial_number
    assert reasons_to_issue(wanted, held, now) == []
    other, _changed, _notes = ensure_authority(str(tmp_path / "other"), AuthoritySettings(common_name="Test Fleet CA"))
    held, _parsed = held_certificate(to_pem(cert), "matches", other.certificate)
    assert reasons_to_issue(wanted, held, now) == ["not signed by the current CA"]
    assert held_certificate("garbage", "matches", authority.certificate)[0].state == "unreadable"
    assert held_certificate(None, "missing", authority.certificate)[0].state == "missing"


def test_openssl_ca_accepts_the_index(authority, tmp_path):
    for _number in range(3):
        sign(authority)
    config = tmp_path / "ca.cnf"
    config.write_text(f"[ca]\ndefault_ca = fleet\n[fleet]\ndatabase = {os.path.join(authority.pki_dir, 'index.txt')}\n"
                      f"certificate = {authority.cert_path}\nprivate_key = {authority.key_path}\n"
                      f"new_certs_dir = {tmp_path}\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n")
    serial = read_index(authority.pki_dir)[0].serial
    result = subprocess.run(["openssl", "ca", "-config", str(config), "-status", serial],
                            capture_output=True, text=True, check=False)
    assert f"{serial}=Valid" in result.stdout + result.stderr


def test_the_index_tells_whether_a_host_can_hold_a_valid_certificate(authority, now):
    subject = openssl_subject(leaf_subject("cam-05"))
    assert subject == "/CN=cam-05"
    assert not lists_valid(read_index(authority.pki_dir), subject, now)
    sign(authority, now=now)
    entries = read_index(authority.pki_dir)
    assert lists_valid(entries, subject, now)
    assert not lists_valid(entries, "/CN=cam-06", now)
    assert not lists_valid(entries, subject, now + datetime.timedelta(days=400))  # expired by then
    revoked = [dataclasses.replace(entry, status="R") for entry in entries]
    assert not lists_valid(revoked, subject, now)


def test_a_batch_writes_the_index_under_the_lock_not_at_its_end(authority, now):
    with deferred_writes():
        sign(authority, now=now)
        with open(os.path.join(authority.pki_dir, "index.txt"), encoding="utf-8") as handle:
            assert "/CN=cam-05" in handle.read()  # what another process reads once the lock is free
