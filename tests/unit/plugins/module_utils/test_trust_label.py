# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import hashlib

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    ca_label,
    certificate_ders,
    der_to_pem,
    sha256_hex,
    single_certificate_der,
    validate_label,
)

cryptography = pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def make_ca(cn="Fleet Root CA"):
    """A throwaway self-signed CA: (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


@pytest.fixture(scope="module")
def ca():
    return make_ca()[0]


@pytest.fixture(scope="module")
def der(ca):
    return ca.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pem(ca):
    return ca.public_bytes(serialization.Encoding.PEM).decode("ascii")


# --- ca_label -------------------------------------------------------------------------------

def test_label_is_cn_plus_16_hex_of_sha256(der):
    assert ca_label("Fleet Root CA", der) == "Fleet_Root_CA-" + hashlib.sha256(der).hexdigest()[:16]


@pytest.mark.parametrize("cn, expected", [
    ("fleet-ca", "fleet-ca"),
    ("ca.example.com", "ca.example.com"),
    ("Fleet Root CA", "Fleet_Root_CA"),
    ("Müller & Söhne CA", "M_ller_S_hne_CA"),          # non-ASCII and runs of symbols become one "_"
    ("  ..a  b.. ", "a_b"),                              # edges stripped of "._-" after sanitizing
    ("--x--", "x"),
    ("a/../../etc/passwd", "a_.._.._etc_passwd"),       # no path separators survive
    ("tab\tnew\nline", "tab_new_line"),
])
def test_label_sanitizes_the_cn(cn, expected, der):
    assert ca_label(cn, der) == expected + "-" + sha256_hex(der)[:16]


@pytest.mark.parametrize("cn", ["", None, "   ", "***", "._-"])
def test_label_without_usable_cn_uses_the_default_name(cn, der):
    assert ca_label(cn, der) == "fleet-pki-ca-" + sha256_hex(der)[:16]


def test_label_keeps_long_names_short(der):
    label = ca_label("x" * 300, der)
    assert label == "x" * 64 + "-" + sha256_hex(der)[:16]
    validate_label(label)


def test_label_differs_for_a_recreated_ca_with_the_same_cn():
    first = make_ca("Same CN")[0].public_bytes(serialization.Encoding.DER)
    second = make_ca("Same CN")[0].public_bytes(serialization.Encoding.DER)
    assert ca_label("Same CN", first) != ca_label("Same CN", second)
    assert ca_label("Same CN", first) == ca_label("Same CN", first)


def test_generated_labels_are_valid(der):
    for cn in ["Fleet Root CA", "", "ÄÖÜ", "a" * 500, "-.-"]:
        assert validate_label(ca_label(cn, der))


# --- validate_label -------------------------------------------------------------------------

@pytest.mark.parametrize("label", ["fleet", "Fleet_Root_CA-0123456789abcdef", "a.b-c_d", "0"])
def test_valid_labels(label):
    assert validate_label(label) == label


@pytest.mark.parametrize("label", ["", ".hidden", "-x", "_x", "../etc", "a/b", "a b", "é", "a" * 129, None])
def test_invalid_labels(label):
    with pytest.raises(TrustAnchorError, match="is not valid"):
        validate_label(label)


# --- PEM parsing ----------------------------------------------------------------------------

def test_fingerprint_matches_cryptography(ca, der):
    assert sha256_hex(der) == ca.fingerprint(hashes.SHA256()).hex()


def test_der_to_pem_is_the_canonical_pem(pem, der):
    assert der_to_pem(der) == pem


def test_single_certificate_round_trip(pem, der):
    assert single_certificate_der(pem) == der
    assert single_certificate_der(pem.encode("ascii")) == der


def test_single_certificate_ignores_text_around_and_crlf(pem, der):
    text = "subject=CN = Fleet Root CA\r\n" + pem.replace("\n", "\r\n") + "trailing words\n"
    assert single_certificate_der(text) == der


def test_single_certificate_rejects_two(pem):
    with pytest.raises(TrustAnchorError, match="exactly one certificate, found 2"):
        single_certificate_der(pem + pem)


def test_single_certificate_rejects_a_private_key_next_to_it(pem):
    key = make_ca()[1].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    with pytest.raises(TrustAnchorError, match="PRIVATE KEY") as excinfo:
        single_certificate_der(key + pem)
    # The key material itself must never end up in a message.
    assert key.splitlines()[1] not in str(excinfo.value)


@pytest.mark.parametrize("text, match", [
    ("", "no '-----BEGIN CERTIFICATE-----' block"),
    ("hello world\n", "no '-----BEGIN CERTIFICATE-----' block"),
    ("-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n", "not valid base64"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "does not hold a DER certificate"),
    ("-----BEGIN CERTIFICATE-----\nMIIB\n", "no '-----BEGIN CERTIFICATE-----' block"),
])
def test_single_certificate_rejects_junk(text, match):
    with pytest.raises(TrustAnchorError, match=match):
        single_certificate_der(text)


def test_single_certificate_rejects_binary_der(der):
    with pytest.raises(TrustAnchorError, match="binary data"):
        single_certificate_der(der)


def test_certificate_ders_lists_every_certificate(pem, der):
    other = make_ca("Other")[0]
    text = pem + other.public_bytes(serialization.Encoding.PEM).decode("ascii")
    assert certificate_ders(text) == [der, other.public_bytes(serialization.Encoding.DER)]
