# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.certificate_info fed hostile bytes: every input gives a result or a FleetPkiError, never another exception.

The inputs: random bytes, random bytes in PEM armour, and real certificates, bundles, keys (plain, encrypted,
traditional OpenSSL form) and CSRs in PEM and DER, truncated, bit-flipped, with bytes inserted or dropped, and
damaged DER re-armoured as valid-looking PEM (so that the parsers, not the base64 decoder, see the damage).
No message or result may carry private key bytes or the passphrase. Derandomised, so CI sees the same cases.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.fleet.pki.plugins.module_utils import _certificate_info as info
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.modules import certificate_info as module

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
PASSPHRASE = "fuzz-passphrase-canary-6021"
LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
          "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST",
          "EC PARAMETERS", "PUBLIC KEY", "X509 CRL", "PKCS7")
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _certificate(name, key, issuer=None, issuer_key=None, ca=False):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("dev1.fleet.example"), x509.IPAddress(ipaddress.ip_address("10.0.0.5"))]),
            critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem_key(key, encryption=None, private_format=serialization.PrivateFormat.PKCS8):
    return key.private_bytes(serialization.Encoding.PEM, private_format, encryption or serialization.NoEncryption())


def _material():
    """(name, bytes) of every real input, and the private key texts that must never come back."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ca = _certificate("Fuzz CA", ca_key, ca=True)
    leaf = _certificate("dev1", leaf_key, ca, ca_key)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev1")]))
           .sign(rsa_key, hashes.SHA256()))
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    keys = {
        "key-pkcs8": _pem_key(leaf_key),
        "key-encrypted": _pem_key(leaf_key, serialization.BestAvailableEncryption(PASSPHRASE.encode())),
        "key-traditional-ec": _pem_key(leaf_key, private_format=serialization.PrivateFormat.TraditionalOpenSSL),
        "key-rsa": _pem_key(rsa_key),
        "key-ed25519": _pem_key(ed_key),
        "key-der": leaf_key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }
    inputs = dict(keys)
    inputs.update({
        "cert-pem": leaf.public_bytes(pem),
        "cert-der": leaf.public_bytes(der),
        "bundle-pem": leaf.public_bytes(pem) + ca.public_bytes(pem),
        "csr-pem": csr.public_bytes(pem),
        "csr-der": csr.public_bytes(der),
        "ca-pem": ca.public_bytes(pem),
    })
    secrets = set()
    for key in (ca_key, leaf_key, rsa_key, ed_key):
        body = "".join(line for line in _pem_key(key).decode().splitlines() if not line.startswith("-----"))
        raw = key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        # Any 16 characters of the base64 body or 8 bytes of the DER (as hex, either case): a fragment is a leak too.
        secrets |= {body[i:i + 16] for i in range(len(body) - 15)}
        secrets |= {raw[i:i + 8].hex() for i in range(len(raw) - 7)}
        secrets |= {raw[i:i + 8].hex().upper() for i in range(len(raw) - 7)}
        secrets |= {":".join(f"{b:02X}" for b in raw[i:i + 8]) for i in range(len(raw) - 7)}
    return inputs, secrets, ca.public_bytes(pem).decode()


INPUTS, SECRETS, CA_PEM = _material()
NAMES = sorted(INPUTS)


def _armour(label, der):
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode("ascii")


@st.composite
def damaged(draw):
    """A real input, damaged in one of the ways files get damaged."""
    name = draw(st.sampled_from(NAMES))
    data = INPUTS[name]
    if data.startswith(b"-----BEGIN") and draw(st.booleans()):
        # Damage the DER inside, then armour it again: the PEM looks fine, the structure is not.
        label = data.split(b"-----")[1][len(b"BEGIN "):].decode()
        body = b"".join(line for line in data.splitlines() if not line.startswith(b"-----"))
        return _armour(label, draw(_mutated(base64.b64decode(body))))
    return draw(_mutated(data))


@st.composite
def _mutated(draw, data):
    how = draw(st.sampled_from(["truncate", "flip", "insert", "drop", "repeat"]))
    at = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
    if how == "truncate":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1:]
    if how == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if how == "drop":
        return data[:at] + data[at + draw(st.integers(1, 16)):]
    return data + data[at:]


ARMOURED = st.builds(_armour, st.sampled_from(LABELS), st.binary(max_size=600))
HOSTILE = st.one_of(st.binary(max_size=2048), ARMOURED, damaged())


def assert_clean(text):
    text = str(text)
    assert PASSPHRASE not in text
    leaked = [fragment for fragment in SECRETS if fragment in text]
    assert not leaked, f"private key bytes in output: {leaked[:3]}"


def inspect(data, kind, passphrase):
    """load() then facts(): a result dict, or the FleetPkiError message."""
    try:
        result = info.facts(info.load(data, "fuzz.pem", kind, passphrase), NOW)
    except FleetPkiError as exc:
        assert str(exc), "an error must say what is wrong"
        return str(exc)
    assert result["type"] in info.KINDS
    return result


@FUZZ
@given(data=HOSTILE, kind=st.sampled_from(info.KINDS), passphrase=st.sampled_from([None, PASSPHRASE, "wrong"]))
def test_load_and_facts_give_a_result_or_a_clear_error(data, kind, passphrase):
    assert_clean(inspect(data, kind, passphrase))


@FUZZ
@given(data=HOSTILE)
def test_chain_and_key_checks_on_hostile_input(data):
    """verify_chain, key_matches and name_problem on whatever load() accepted."""
    try:
        material = info.load(data, "fuzz.pem")
        if material.kind in ("certificate", "bundle"):
            anchors = info.load(CA_PEM.encode(), "ca.pem", "bundle").certificates
            outcome = info.verify_chain(material.certificates, anchors, NOW, "dev1.fleet.example")
            outcome += (info.name_problem(material.certificates[0], "10.0.0.5"),)
            outcome += (info.key_matches(material, info.load(INPUTS["key-pkcs8"], "key.pem", "key")),)
        elif material.kind == "csr":
            outcome = info.key_matches(material, info.load(INPUTS["key-rsa"], "key.pem", "key"))
        else:
            outcome = info.facts(material, NOW)
    except FleetPkiError as exc:
        outcome = str(exc)
    assert_clean(outcome)


def _run_module(**params):
    defaults = dict(path=None, content=None, type="auto", passphrase=None, private_key_path=None,
                    private_key_content=None, ca_path=None, ca_content=None, expected_name=None,
                    valid_at="2026-11-26T12:00:00Z")
    defaults.update(params)
    try:
        return module.run(types.SimpleNamespace(params=defaults))
    except FleetPkiError as exc:
        return str(exc)


@FUZZ
@given(data=HOSTILE, as_base64=st.booleans(), role=st.sampled_from(["content", "private_key_content", "ca_content"]))
def test_the_module_entry_point_on_hostile_input(data, as_base64, role):
    """The module's run(): hostile bytes as the thing to inspect, as the key to match, or as the CA to verify with.

    Options travel as text: PEM as it is, anything else as base64 (what content_bytes expects), or raw text.
    """
    text = base64.b64encode(data).decode() if as_base64 else data.decode("latin-1")
    params = {"content": INPUTS["cert-pem"].decode(), "expected_name": "dev1.fleet.example"}
    params[role] = text
    if role == "private_key_content":
        params["passphrase"] = PASSPHRASE
    if role != "ca_content":
        params["ca_content"] = CA_PEM
    result = _run_module(**params)
    assert isinstance(result, (str, dict))
    assert_clean(result)


@pytest.mark.parametrize("name", NAMES)
def test_every_real_input_is_read(name):
    """The undamaged inputs load, so that the damage above is what the errors are about."""
    result = inspect(INPUTS[name], "auto", PASSPHRASE)
    assert isinstance(result, dict), result
    assert_clean(result)


def test_damage_that_cryptography_finds_late_is_named():
    """What the fuzzing found first: a SAN whose SEQUENCE became a SET loads fine and only fails when read."""
    der = bytearray(INPUTS["cert-der"])
    san = der.index(bytes.fromhex("551d11"))  # the OID 2.5.29.17, then OCTET STRING, then the SEQUENCE of names
    sequence = der.index(b"\x30", der.index(b"\x04", san))
    der[sequence] = 0x31
    with pytest.raises(FleetPkiError, match="the certificate in cert.der cannot be parsed: damaged or unsupported extensions"):
        info.load(bytes(der), "cert.der")
    with pytest.raises(FleetPkiError, match="certificate 1 of 2 in bundle.pem cannot be parsed: damaged or unsupported ext"):
        info.load(_armour("CERTIFICATE", bytes(der)) + INPUTS["ca-pem"], "bundle.pem")


def test_an_impossible_version_is_a_clear_error():
    """The second find: cryptography raises InvalidVersion, which is no ValueError, for a version field of 5."""
    der = bytearray(INPUTS["cert-der"])
    der[der.index(bytes.fromhex("a003020102")) + 4] = 0x05  # [0] EXPLICIT INTEGER 2 (v3) becomes 5
    for data, source in ((bytes(der), "cert.der"), (_armour("CERTIFICATE", bytes(der)), "cert.pem")):
        with pytest.raises(FleetPkiError, match=f"{source} cannot be parsed|is not a certificate"):
            info.load(data, source)
