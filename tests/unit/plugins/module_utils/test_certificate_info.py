# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inspection of certificates, keys, CSRs and bundles, and the key-match and chain checks.

The test PKI is built here with `cryptography` directly, and a few facts are cross-checked with the
real openssl CLI, so the code is compared with independent implementations, not with itself.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.fleet.pki.plugins.module_utils import _certificate_info as info
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
PASSPHRASE = "correct horse battery staple"


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fleet Test"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn, key, issuer=None, ca=False, path_length=None, sans=(), start=NOW - DAY, end=NOW + 90 * DAY,
              ekus=(ExtendedKeyUsageOID.SERVER_AUTH,), key_cert_sign=None, hash_algorithm=True):
    """`issuer` is (certificate, key) or None for self-signed. Returns the certificate."""
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn)).issuer_name(issuer_cert.subject if issuer_cert else name(cn))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    sign = ca if key_cert_sign is None else key_cert_sign
    builder = builder.add_extension(
        x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                      data_encipherment=False, key_agreement=False, key_cert_sign=sign, crl_sign=ca,
                      encipher_only=False, decipher_only=False), critical=True)
    if sans:
        entries = []
        for value in sans:
            try:
                entries.append(x509.IPAddress(ipaddress.ip_address(value)))
            except ValueError:
                entries.append(x509.DNSName(value))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    if ekus and not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(key, passphrase=None, fmt=serialization.PrivateFormat.PKCS8):
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


@pytest.fixture(scope="module")
def pki():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = make_cert("Fleet Test CA", ca_key, ca=True, path_length=1, end=NOW + 3650 * DAY)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = make_cert("Fleet Intermediate", inter_key, issuer=(ca, ca_key), ca=True, path_length=0, end=NOW + 1000 * DAY)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = make_cert("dev1", leaf_key, issuer=(ca, ca_key), sans=("10.0.0.5", "Dev1.Example.COM", "2001:db8:0:0::1"))
    deep_key = ec.generate_private_key(ec.SECP256R1())
    deep = make_cert("dev2", deep_key, issuer=(inter, inter_key), sans=("dev2.example.com",))
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = make_cert("Other CA", other_key, ca=True, path_length=0)
    return dict(ca=ca, ca_key=ca_key, inter=inter, inter_key=inter_key, leaf=leaf, leaf_key=leaf_key,
                deep=deep, deep_key=deep_key, other_ca=other_ca, other_key=other_key)


def no_secret(result, *secrets):
    dumped = json.dumps(result, default=str)
    for secret in secrets:
        text = secret.decode() if isinstance(secret, bytes) else secret
        body = "".join(line for line in text.splitlines() if "-----" not in line)
        assert text not in dumped
        assert body[:40] not in dumped.replace("\\n", "")


# --- reading and facts -----------------------------------------------------------------------

def test_certificate_facts_from_pem(pki):
    leaf, ca = pki["leaf"], pki["ca"]
    result = info.inspect(pem(leaf), "cert.pem", now=NOW)
    assert result["type"] == "certificate"
    assert result["subject"] == "CN=dev1,O=Fleet Test"
    assert result["common_name"] == "dev1"
    assert result["issuer"] == "CN=Fleet Test CA,O=Fleet Test"
    assert result["issuer_common_name"] == "Fleet Test CA"
    assert result["sans"] == ["IP:10.0.0.5", "IP:2001:db8::1", "DNS:dev1.example.com"]
    assert result["ip_addresses"] == ["10.0.0.5", "2001:db8::1"]
    assert result["dns_names"] == ["dev1.example.com"]
    serial = format(leaf.serial_number, "X")
    assert result["serial"] == ("0" + serial if len(serial) % 2 else serial)
    assert result["not_before"] == "2026-11-25T12:00:00Z"
    assert result["not_after"] == "2027-02-24T12:00:00Z"
    assert result["days_left"] == 90
    assert result["expired"] is False and result["not_yet_valid"] is False
    assert result["is_ca"] is False and result["path_length"] is None and result["self_signed"] is False
    assert (result["key_algorithm"], result["key_type"], result["key_size"], result["key_curve"]) == ("ec", "ec-p256", 256, "P-256")
    assert result["signature_algorithm"] == "ecdsa-with-SHA256"
    assert result["fingerprint_sha256"] == leaf.fingerprint(hashes.SHA256()).hex(":").upper()
    assert result["fingerprint_sha1"] == leaf.fingerprint(hashes.SHA1()).hex(":").upper()
    assert result["extended_key_usage"] == ["serverAuth"]
    assert result["key_usage"] == ["digitalSignature"]
    ski = x509.SubjectKeyIdentifier.from_public_key(pki["leaf_key"].public_key()).digest
    assert result["subject_key_identifier"] == ski.hex(":").upper()
    assert result["authority_key_identifier"] == ca.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest.hex(":").upper()
    assert result["certificates"] == [{k: v for k, v in result.items() if k not in ("type", "certificates")}]


def test_ca_facts_and_der_input(pki):
    result = info.inspect(der(pki["ca"]), "/pki/ca/ca.der.crt", now=NOW)
    assert result["type"] == "certificate"
    assert result["is_ca"] is True and result["path_length"] == 1 and result["self_signed"] is True
    assert result["key_usage"] == ["keyCertSign", "cRLSign"]
    assert result["sans"] == [] and result["extended_key_usage"] == []
    assert result["fingerprint_sha256"] == info.inspect(pem(pki["ca"]), now=NOW)["fingerprint_sha256"]


def test_days_left_follows_the_injected_now(pki):
    assert info.inspect(pem(pki["leaf"]), now=NOW + 60 * DAY)["days_left"] == 30
    assert info.inspect(pem(pki["leaf"]), now=NOW + 89 * DAY + datetime.timedelta(hours=1))["days_left"] == 0
    late = info.inspect(pem(pki["leaf"]), now="2027-03-01T00:00:00Z")
    assert late["expired"] is True and late["days_left"] < 0
    early = info.inspect(pem(pki["leaf"]), now="2026-11-01")
    assert early["not_yet_valid"] is True and early["expired"] is False


def test_bundle_lists_certificates_in_order(pki):
    data = pem(pki["deep"]) + b"\n" + pem(pki["inter"]) + pem(pki["ca"])
    result = info.inspect(data, "fullchain.pem", now=NOW)
    assert result["type"] == "bundle"
    assert [c["common_name"] for c in result["certificates"]] == ["dev2", "Fleet Intermediate", "Fleet Test CA"]
    assert result["common_name"] == "dev2"
    with pytest.raises(FleetPkiError, match=r"fullchain.pem holds 3 certificates; use type=bundle"):
        info.inspect(data, "fullchain.pem", kind="certificate")
    assert info.inspect(pem(pki["leaf"]), kind="bundle", now=NOW)["type"] == "bundle"


@pytest.mark.parametrize("make_key,expected", [
    (lambda: ec.generate_private_key(ec.SECP384R1()), ("ec", "ec-p384", 384, "P-384")),
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), ("rsa", "rsa-2048", 2048, None)),
    (ed25519.Ed25519PrivateKey.generate, ("ed25519", "ed25519", 256, None)),
])
def test_private_keys(make_key, expected):
    key = make_key()
    data = key_pem(key)
    result = info.inspect(data, "key.pem")
    assert (result["key_algorithm"], result["key_type"], result["key_size"], result["key_curve"]) == expected
    assert result["type"] == "key" and result["encrypted"] is False
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert result["public_key_fingerprint_sha256"] == hashlib.sha256(spki).digest().hex(":").upper()
    no_secret(result, data)
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert info.inspect(der_key, "key.der")["key_type"] == expected[1]


def test_traditional_openssl_key_formats():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = key_pem(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL)
    assert data.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert info.inspect(data)["key_type"] == "rsa-2048"
    eckey = ec.generate_private_key(ec.SECP256R1())
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    assert info.inspect(params + key_pem(eckey, fmt=serialization.PrivateFormat.TraditionalOpenSSL))["key_type"] == "ec-p256"


def test_encrypted_key_needs_the_right_passphrase():
    key = ec.generate_private_key(ec.SECP256R1())
    data = key_pem(key, PASSPHRASE)
    assert b"ENCRYPTED PRIVATE KEY" in data
    with pytest.raises(FleetPkiError) as missing:
        info.inspect(data, "/etc/dev/key.pem")
    assert str(missing.value) == "the private key in /etc/dev/key.pem is encrypted; give its passphrase"
    with pytest.raises(FleetPkiError) as wrong:
        info.inspect(data, "/etc/dev/key.pem", passphrase="not it")
    assert str(wrong.value) == "cannot decrypt the private key in /etc/dev/key.pem: wrong passphrase"
    assert "not it" not in str(wrong.value)
    result = info.inspect(data, "/etc/dev/key.pem", passphrase=PASSPHRASE)
    assert result["encrypted"] is True and result["key_type"] == "ec-p256"
    no_secret(result, data, PASSPHRASE, key_pem(key))
    # A passphrase for a plain key is harmless.
    assert info.inspect(key_pem(key), passphrase=PASSPHRASE)["encrypted"] is False


def test_encrypted_der_key():
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(PASSPHRASE.encode()))
    with pytest.raises(FleetPkiError, match="is encrypted; give its passphrase"):
        info.inspect(data, "key.der")
    assert info.inspect(data, "key.der", passphrase=PASSPHRASE)["encrypted"] is True


def test_csr(pki):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(name("dev9"))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("dev9.example.com"),
                                                       x509.IPAddress(ipaddress.ip_address("10.9.9.9"))]), critical=False)
           .sign(key, hashes.SHA256()))
    result = info.inspect(csr.public_bytes(serialization.Encoding.PEM), "dev9.csr")
    assert result["type"] == "csr" and result["subject"] == "CN=dev9,O=Fleet Test"
    assert result["sans"] == ["IP:10.9.9.9", "DNS:dev9.example.com"]
    assert result["signature_valid"] is True and result["key_type"] == "rsa-2048"
    assert result["signature_algorithm"] == "sha256WithRSAEncryption"
    assert info.inspect(csr.public_bytes(serialization.Encoding.DER), "dev9.csr.der")["type"] == "csr"
    # A CSR whose signature was tampered with.
    raw = bytearray(csr.public_bytes(serialization.Encoding.DER))
    raw[-5] ^= 0xFF
    assert info.inspect(bytes(raw), "bad.csr")["signature_valid"] is False


@pytest.mark.parametrize("data,message", [
    (b"", r"^cert.pem is empty$"),
    (b"  \n\n", r"^cert.pem is empty$"),
    (os.urandom(300), r"^cert.pem is not a certificate, private key or certificate request in PEM or DER form$"),
    (b"hello world, not a certificate\n", r"^cert.pem is not a certificate, private key or certificate request"),
    (b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n", r"^cert.pem holds a truncated PEM block"),
    (b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n",
     r"^the certificate in cert.pem cannot be parsed"),
    (b"-----BEGIN X509 CRL-----\nMIIBszCCAVmgAwIBAgIU\n-----END X509 CRL-----\n",
     r"^cert.pem holds PEM blocks of an unsupported type \(X509 CRL\)"),
    (b"-----BEGIN PUBLIC KEY-----\nMIIBszCCAVmgAwIBAgIU\n-----END PUBLIC KEY-----\n",
     r"unsupported type \(PUBLIC KEY\)"),
])
def test_garbage_is_refused_with_a_clear_message(data, message):
    with pytest.raises(FleetPkiError, match=message):
        info.inspect(data, "cert.pem")


def test_truncated_pem_of_a_real_certificate(pki):
    text = pem(pki["leaf"])
    with pytest.raises(FleetPkiError, match="truncated"):
        info.inspect(text[: len(text) // 2], "/etc/dev/cert.pem")
    # Lines lost in the middle: BEGIN and END are there, the DER is not whole.
    lines = text.splitlines(keepends=True)
    with pytest.raises(FleetPkiError, match=r"^the certificate in /etc/dev/cert.pem cannot be parsed"):
        info.inspect(b"".join(lines[:3] + lines[-2:]), "/etc/dev/cert.pem")


def test_mixed_file_needs_a_type(pki):
    data = pem(pki["leaf"]) + key_pem(pki["leaf_key"])
    with pytest.raises(FleetPkiError, match="holds both certificate and private key blocks; set type") as error:
        info.inspect(data, "combined.pem")
    no_secret({"msg": str(error.value)}, key_pem(pki["leaf_key"]))
    assert info.inspect(data, kind="certificate", now=NOW)["common_name"] == "dev1"
    assert info.inspect(data, kind="key")["key_type"] == "ec-p256"


def test_wrong_type_requested(pki):
    with pytest.raises(FleetPkiError, match=r"^cert.pem holds no PEM certificate \(found: PRIVATE KEY\)$"):
        info.inspect(key_pem(pki["leaf_key"]), "cert.pem", kind="certificate")
    with pytest.raises(FleetPkiError, match=r"^key.pem holds 0 PEM private keys"):
        info.inspect(pem(pki["leaf"]), "key.pem", kind="key")
    with pytest.raises(FleetPkiError, match=r"not a certificate request in PEM or DER form"):
        info.inspect(der(pki["leaf"]), "x.der", kind="csr")


def test_content_bytes():
    assert info.content_bytes("-----BEGIN CERTIFICATE-----\nAAAA\n") == b"-----BEGIN CERTIFICATE-----\nAAAA\n"
    assert info.content_bytes("MIIB\nAQID") == bytes.fromhex("308201010203")
    with pytest.raises(FleetPkiError, match="neither PEM text nor base64-encoded DER"):
        info.content_bytes("this is not base64!")


def test_parse_time():
    assert info.parse_time("2026-11-26T12:00:00Z") == NOW
    assert info.parse_time("2026-11-26T13:00:00+01:00") == NOW
    assert info.parse_time("2026-11-26T12:00:00") == NOW
    with pytest.raises(FleetPkiError, match="valid_at 'tomorrow' is not an ISO 8601 time"):
        info.parse_time("tomorrow")


# --- key match -------------------------------------------------------------------------------

def test_key_matches(pki):
    leaf = info.load(pem(pki["leaf"]))
    assert info.key_matches(leaf, info.load(key_pem(pki["leaf_key"]))) is True
    assert info.key_matches(leaf, info.load(key_pem(pki["deep_key"]))) is False
    encrypted = info.load(key_pem(pki["leaf_key"], PASSPHRASE), passphrase=PASSPHRASE)
    assert info.key_matches(leaf, encrypted) is True
    with pytest.raises(FleetPkiError, match="is a private key; a key match needs a certificate or a CSR"):
        info.key_matches(info.load(key_pem(pki["leaf_key"]), "k.pem"), encrypted)


# --- chain -----------------------------------------------------------------------------------

def chain(certs, anchors, **kwargs):
    return info.verify_chain(certs, anchors, now=kwargs.pop("now", NOW), **kwargs)


def test_chain_valid_directly_and_through_an_intermediate(pki):
    valid, errors, method = chain([pki["leaf"]], [pki["ca"]], expected_name="10.0.0.5")
    assert (valid, errors) == (True, [])
    assert method == ("fleet.pki+cryptography.x509.verification" if info.verification else "fleet.pki")
    assert chain([pki["deep"], pki["inter"]], [pki["ca"]], expected_name="DEV2.example.com.")[:2] == (True, [])
    # The bundle's order does not matter, and a root inside the bundle is harmless.
    assert chain([pki["deep"], pki["ca"], pki["inter"]], [pki["ca"]])[:2] == (True, [])
    # The CA checked against itself.
    assert chain([pki["ca"]], [pki["ca"]])[:2] == (True, [])


def test_chain_missing_intermediate(pki):
    valid, errors, _method = chain([pki["deep"]], [pki["ca"]])
    assert not valid
    assert errors == ["'CN=dev2,O=Fleet Test' is issued by 'CN=Fleet Intermediate,O=Fleet Test', which is not the CA "
                      "('CN=Fleet Test CA,O=Fleet Test') and not in the bundle"]


def test_chain_wrong_ca(pki):
    valid, errors, _method = chain([pki["leaf"]], [pki["other_ca"]])
    assert not valid and "which is not the CA ('CN=Other CA,O=Fleet Test')" in errors[0]


def test_chain_recreated_ca_with_the_same_name(pki):
    key = ec.generate_private_key(ec.SECP256R1())
    twin = make_cert("Fleet Test CA", key, ca=True, path_length=1)
    valid, errors, _method = chain([pki["leaf"]], [twin])
    assert not valid
    assert errors == ["signature of 'CN=dev1,O=Fleet Test' does not verify with CA 'CN=Fleet Test CA,O=Fleet Test' "
                      "(same name, different key: was the CA re-created?)"]


def test_chain_expired_and_not_yet_valid(pki):
    valid, errors, _method = chain([pki["leaf"]], [pki["ca"]], now=NOW + 100 * DAY)
    assert not valid and errors == ["'CN=dev1,O=Fleet Test' expired on 2027-02-24T12:00:00Z"]
    valid, errors, _method = chain([pki["leaf"]], [pki["ca"]], now=NOW - 2 * DAY)
    assert not valid and errors == ["'CN=dev1,O=Fleet Test' is not valid before 2026-11-25T12:00:00Z",
                                    "'CN=Fleet Test CA,O=Fleet Test' is not valid before 2026-11-25T12:00:00Z"]


def test_chain_expired_ca(pki):
    key = ec.generate_private_key(ec.SECP256R1())
    old_ca = make_cert("Old CA", key, ca=True, end=NOW - DAY, start=NOW - 30 * DAY)
    leaf = make_cert("dev3", ec.generate_private_key(ec.SECP256R1()), issuer=(old_ca, key), sans=("dev3",),
                     start=NOW - 10 * DAY)
    valid, errors, _method = chain([leaf], [old_ca])
    assert not valid and errors == ["'CN=Old CA,O=Fleet Test' expired on 2026-11-25T12:00:00Z"]


def test_chain_wrong_expected_name(pki):
    valid, errors, _method = chain([pki["leaf"]], [pki["ca"]], expected_name="10.0.0.6")
    assert not valid
    assert errors == ["'CN=dev1,O=Fleet Test' has no SAN matching '10.0.0.6' "
                      "(its SANs: IP:10.0.0.5, IP:2001:db8::1, DNS:dev1.example.com)"]
    assert chain([pki["leaf"]], [pki["ca"]], expected_name="2001:DB8::0:1")[0] is True
    assert chain([pki["leaf"]], [pki["ca"]], expected_name="x.dev1.example.com")[0] is False


def test_wildcard_san(pki):
    leaf = make_cert("wild", pki["leaf_key"], issuer=(pki["ca"], pki["ca_key"]), sans=("*.fleet.example",))
    assert chain([leaf], [pki["ca"]], expected_name="dev1.fleet.example")[0] is True
    assert chain([leaf], [pki["ca"]], expected_name="a.b.fleet.example")[0] is False


def test_leaf_without_san(pki):
    leaf = make_cert("10.0.0.7", pki["leaf_key"], issuer=(pki["ca"], pki["ca_key"]))
    valid, errors, _method = chain([leaf], [pki["ca"]], expected_name="10.0.0.7")
    assert not valid and errors == ["'CN=10.0.0.7,O=Fleet Test' has no subjectAltName, so no client accepts it for "
                                    "'10.0.0.7' (clients ignore the CN)"]


def test_issuer_that_is_not_a_ca(pki):
    # A leaf used as an issuer: correct signature and names, but CA:FALSE.
    fake = make_cert("dev4", ec.generate_private_key(ec.SECP256R1()), issuer=(pki["leaf"], pki["leaf_key"]), sans=("dev4",))
    valid, errors, _method = chain([fake, pki["leaf"]], [pki["ca"]])
    assert not valid
    assert errors == ["'CN=dev1,O=Fleet Test' is not a CA certificate (BasicConstraints CA:TRUE is missing)"]


def test_path_length_and_key_cert_sign(pki):
    inner_key = ec.generate_private_key(ec.SECP256R1())
    inner = make_cert("Inner CA", inner_key, issuer=(pki["inter"], pki["inter_key"]), ca=True, path_length=0)
    leaf = make_cert("dev5", ec.generate_private_key(ec.SECP256R1()), issuer=(inner, inner_key), sans=("dev5",))
    valid, errors, _method = chain([leaf, inner, pki["inter"]], [pki["ca"]])
    assert not valid
    assert errors == ["'CN=Fleet Intermediate,O=Fleet Test' allows a path length of 0, but 1 intermediate CA(s) sit below it",
                      "'CN=Fleet Test CA,O=Fleet Test' allows a path length of 1, but 2 intermediate CA(s) sit below it"]
    no_sign_key = ec.generate_private_key(ec.SECP256R1())
    no_sign = make_cert("No Sign CA", no_sign_key, ca=True, key_cert_sign=False)
    leaf = make_cert("dev6", ec.generate_private_key(ec.SECP256R1()), issuer=(no_sign, no_sign_key), sans=("dev6",))
    valid, errors, _method = chain([leaf], [no_sign])
    assert not valid and errors == ["'CN=No Sign CA,O=Fleet Test' may not sign certificates (its KeyUsage lacks keyCertSign)"]


@pytest.mark.skipif(info.verification is None, reason="cryptography < 42 has no x509.verification")
def test_second_opinion_catches_what_we_do_not_model(pki):
    # A leaf without AuthorityKeyIdentifier: our linkage checks pass, the RFC 5280 profile requires the extension.
    weak = (x509.CertificateBuilder().subject_name(name("dev7")).issuer_name(pki["ca"].subject)
            .public_key(pki["leaf_key"].public_key()).serial_number(7)
            .not_valid_before(NOW - DAY).not_valid_after(NOW + DAY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("dev7")]), critical=False)
            .sign(pki["ca_key"], hashes.SHA256()))
    valid, errors, method = chain([weak], [pki["ca"]])
    assert not valid and method == "fleet.pki+cryptography.x509.verification"
    assert len(errors) == 1 and errors[0].startswith("cryptography's RFC 5280 verifier rejects the chain: ")
    assert "2.5.29.35" in errors[0]  # the AKI's OID


def test_fallback_signature_check_without_verify_directly_issued_by(pki, monkeypatch):
    """The path for cryptography < 40 verifies EC, RSA and Ed25519 signatures itself."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_ca = make_cert("RSA CA", rsa_key, ca=True)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_ca = make_cert("Ed CA", ed_key, ca=True)
    pairs = [(pki["leaf"], pki["ca"]), (make_cert("r", pki["leaf_key"], issuer=(rsa_ca, rsa_key)), rsa_ca),
             (make_cert("e", pki["leaf_key"], issuer=(ed_ca, ed_key)), ed_ca)]

    class Old:  # a certificate without the cryptography >= 40 method
        def __init__(self, cert):
            self._cert = cert

        def __getattr__(self, attribute):
            if attribute == "verify_directly_issued_by":
                raise AttributeError(attribute)
            return getattr(self._cert, attribute)

    for cert, issuer in pairs:
        assert info.signed_by(Old(cert), issuer) is True
        assert info.signed_by(Old(cert), pki["other_ca"]) is False


# --- no secrets ------------------------------------------------------------------------------

def test_no_output_or_error_contains_key_material(pki):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    plain, encrypted = key_pem(key), key_pem(key, PASSPHRASE)
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    outputs = [info.inspect(plain), info.inspect(encrypted, passphrase=PASSPHRASE), info.inspect(der_key)]
    for data, passphrase in ((encrypted, None), (encrypted, "wrong " + PASSPHRASE), (plain[:-60], None),
                             (plain.replace(b"A", b"B", 5), None), (der_key[:-10], None)):
        try:
            outputs.append(info.inspect(data, passphrase=passphrase))
        except FleetPkiError as exc:
            outputs.append({"msg": str(exc)})
    dumped = json.dumps(outputs)
    assert PASSPHRASE not in dumped
    numbers = key.private_numbers()
    for secret in (numbers.d, numbers.p, numbers.q):
        assert format(secret, "X") not in dumped.upper().replace(":", "")
        assert str(secret) not in dumped
    no_secret({"o": outputs}, plain, encrypted)
    assert der_key.hex()[100:160] not in dumped


# --- cross-check with the openssl CLI --------------------------------------------------------

def openssl_x509(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial", "-fingerprint", "-sha256", "-enddate",
                          "-ext", "subjectAltName"], capture_output=True, text=True, check=True).stdout
    values = dict(re.findall(r"^(serial|sha256 Fingerprint|SHA256 Fingerprint|notAfter)=(.*)$", out, re.M))
    san_line = out.split("X509v3 Subject Alternative Name:", 1)[1].strip().splitlines()[0]
    return values, [part.strip() for part in san_line.split(",")]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
@pytest.mark.parametrize("which", ["leaf", "deep", "rsa", "ed25519"])
def test_facts_agree_with_openssl(pki, which, tmp_path):
    if which in ("leaf", "deep"):
        cert = pki[which]
    else:
        key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if which == "rsa"
               else ed25519.Ed25519PrivateKey.generate())
        cert = make_cert("x-" + which, key, issuer=(pki["ca"], pki["ca_key"]), sans=("192.168.1.10", "fe80::1:2", "a.example"))
    path = tmp_path / "cert.pem"
    path.write_bytes(pem(cert))
    values, openssl_sans = openssl_x509(str(path))
    result = info.inspect(path.read_bytes(), str(path), now=NOW)
    assert result["serial"] == values["serial"]
    assert result["fingerprint_sha256"] == (values.get("sha256 Fingerprint") or values["SHA256 Fingerprint"])
    not_after = datetime.datetime.strptime(values["notAfter"], "%b %d %H:%M:%S %Y GMT")
    assert result["not_after"] == not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    # openssl prints "IP Address:FE80:0:0:0:0:0:1:2"; compare as normalised sets.
    theirs = set()
    for entry in openssl_sans:
        kind, value = entry.split(":", 1)
        theirs.add("IP:" + ipaddress.ip_address(value).compressed if kind == "IP Address" else "DNS:" + value.lower())
    assert set(result["sans"]) == theirs and len(result["sans"]) == len(openssl_sans)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
def test_public_key_fingerprint_agrees_with_openssl(pki, tmp_path):
    path = tmp_path / "key.pem"
    path.write_bytes(key_pem(pki["leaf_key"], PASSPHRASE))
    spki = subprocess.run(["openssl", "pkey", "-in", str(path), "-passin", "pass:" + PASSPHRASE, "-pubout", "-outform", "DER"],
                          capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-c"], input=spki, capture_output=True, check=True).stdout.decode()
    theirs = digest.strip().split("= ")[-1].upper()
    assert info.inspect(path.read_bytes(), passphrase=PASSPHRASE)["public_key_fingerprint_sha256"] == theirs
    assert info.inspect(pem(pki["leaf"]), now=NOW)["public_key_fingerprint_sha256"] == theirs
