# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Inspect a certificate, a bundle of certificates, a private key or a CSR (the old checkcert / checkkey).

`load()` turns PEM or DER bytes into a `Material`; `facts()` describes it with public data only;
`key_matches()` and `verify_chain()` answer the two questions people ran openssl for.
Fingerprints, serials and key identifiers are upper-case hex, fingerprints and key identifiers
with colons: the way `openssl x509 -fingerprint` and `-text` print them. Times are ISO 8601 UTC.
Nothing here ever puts private key bytes or a passphrase into a return value or a message.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime
import hashlib
import ipaddress
import math

from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import (
    common_name, fingerprint_sha256, iso, sans_of,
)
from ansible_collections.fleet.pki.plugins.module_utils._crypto import (
    PARSE_ERRORS, InvalidSignature, NameOID, UnsupportedAlgorithm, ec, hashes, require_cryptography, rsa,
    serialization, x509,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._names import normalise_dns_name, parse_ip, san_strings
from ansible_collections.fleet.pki.plugins.module_utils._serials import serial_hex
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import pem_blocks

# Key classes and the verifier that _crypto.py does not import; each is optional on old cryptography.
try:
    from cryptography.hazmat.primitives.asymmetric import dsa, ed448, ed25519, padding
except ImportError:
    dsa = ed448 = ed25519 = padding = None
try:
    from cryptography.x509 import verification
except ImportError:  # cryptography < 42
    verification = None

KINDS = ("auto", "certificate", "key", "csr", "bundle")
CERTIFICATE_BLOCKS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
KEY_BLOCKS = ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY")
CSR_BLOCKS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
# openssl ecparam -genkey writes the curve before the key; it carries nothing secret or useful here.
IGNORED_BLOCKS = ("EC PARAMETERS",)
MAX_CHAIN_DEPTH = 8

_KEY_USAGES = (
    ("digital_signature", "digitalSignature"), ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"), ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"), ("key_cert_sign", "keyCertSign"), ("crl_sign", "cRLSign"),
)
_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth", "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection", "1.3.6.1.5.5.7.3.8": "timeStamping", "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}
# OpenSSL's names, so the output reads like `openssl x509 -text`.
_SIGNATURE_NAMES = {
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption", "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption", "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption", "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss", "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224", "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384", "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.3.101.112": "ED25519", "1.3.101.113": "ED448", "1.2.840.10040.4.3": "dsa-with-SHA1",
    "2.16.840.1.101.3.4.3.2": "dsa_with_SHA256",
}
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

Material = collections.namedtuple("Material", "kind source certificates private_key csr encrypted")


# --- reading ---------------------------------------------------------------------------------

def content_bytes(text, source="content"):
    """Bytes of a text option: PEM text as it is, anything else as base64 of DER (binary cannot travel as text)."""
    if isinstance(text, bytes):
        return text
    text = text if isinstance(text, str) else str(text)
    if "-----BEGIN" in text or not text.strip():
        return text.encode("utf-8")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FleetPkiError(f"{source} is neither PEM text nor base64-encoded DER") from None


def read_file(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise FleetPkiError(f"cannot read {path}: {exc.strerror or exc}") from None


def load(data, source="content", kind="auto", passphrase=None):
    """Parse PEM or DER bytes into a Material. `source` (a path or "content") names the input in every error."""
    require_cryptography()
    if kind not in KINDS:
        raise FleetPkiError(f"type '{kind}' is not one of {', '.join(KINDS)}")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        raise FleetPkiError(f"{source} is empty")
    if b"-----BEGIN" in data:
        return _load_pem(data, source, kind, passphrase)
    return _load_der(data, source, kind, passphrase)


def _load_pem(data, source, kind, passphrase):
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise FleetPkiError(f"{source} mixes PEM markers with binary data; it is not a readable PEM file") from None
    every = pem_blocks(text)
    if not every or text.count("-----BEGIN ") != text.count("-----END "):
        raise FleetPkiError(f"{source} holds a truncated PEM block (a BEGIN line without its END line)")
    blocks = [(label, body) for label, body in every if label not in IGNORED_BLOCKS]
    labels = [label for label, _body in blocks]
    unknown = sorted(set(label for label in labels if label not in CERTIFICATE_BLOCKS + KEY_BLOCKS + CSR_BLOCKS))
    certs = [_pem(label, body) for label, body in blocks if label in CERTIFICATE_BLOCKS]
    keys = [_pem(label, body) for label, body in blocks if label in KEY_BLOCKS]
    csrs = [_pem(label, body) for label, body in blocks if label in CSR_BLOCKS]
    if kind == "auto":
        found = [name for name, items in (("certificate", certs), ("private key", keys), ("CSR", csrs)) if items]
        if not found:
            raise FleetPkiError(f"{source} holds PEM blocks of an unsupported type ({', '.join(unknown)}); "
                                f"expected a certificate, a private key or a certificate request")
        if len(found) > 1:
            raise FleetPkiError(f"{source} holds both {' and '.join(found)} blocks; set type to say which one to inspect")
        kind = ("bundle" if len(certs) > 1 else "certificate") if certs else "key" if keys else "csr"
    if kind in ("certificate", "bundle"):
        if not certs:
            raise FleetPkiError(f"{source} holds no PEM certificate (found: {', '.join(labels) or 'no block'})")
        parsed = [_parse_certificate(pem, source, index, len(certs)) for index, pem in enumerate(certs)]
        return _certificates(parsed, source, kind)
    if kind == "key":
        if len(keys) != 1:
            raise FleetPkiError(f"{source} holds {len(keys)} PEM private keys; expected exactly one")
        key, encrypted = _parse_key(keys[0], source, passphrase, serialization.load_pem_private_key)
        return Material("key", source, [], key, None, encrypted)
    if len(csrs) != 1:
        raise FleetPkiError(f"{source} holds {len(csrs)} PEM certificate requests; expected exactly one")
    try:
        csr = x509.load_pem_x509_csr(csrs[0])
    except PARSE_ERRORS:
        raise FleetPkiError(f"{source} holds a certificate request that cannot be parsed") from None
    return Material("csr", source, [], None, _fully_parsed(csr, f"the certificate request in {source}", _CSR_PARTS), None)


def _pem(label, body):
    # Rebuild the block alone, so one bad block is reported as that block.
    return f"-----BEGIN {label}-----\n{body.strip()}\n-----END {label}-----\n".encode("ascii")


def _parse_certificate(pem, source, index, count):
    where = f"certificate {index + 1} of {count} in {source}" if count > 1 else f"the certificate in {source}"
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except PARSE_ERRORS:
        raise FleetPkiError(f"{where} cannot be parsed (damaged or truncated base64/DER)") from None
    return _fully_parsed(certificate, where)


# The parts that cryptography parses only when first read: a damaged one raises there, long after load().
_CERTIFICATE_PARTS = (
    ("subject", lambda c: c.subject), ("issuer", lambda c: c.issuer), ("serial number", lambda c: c.serial_number),
    ("validity", lambda c: (not_before(c), not_after(c))), ("extensions", lambda c: c.extensions),
    ("public key", lambda c: c.public_key()), ("signature algorithm", lambda c: c.signature_algorithm_oid),
)
_CSR_PARTS = (
    ("subject", lambda c: c.subject), ("extensions", lambda c: c.extensions), ("public key", lambda c: c.public_key()),
    ("signature algorithm", lambda c: c.signature_algorithm_oid), ("signature", lambda c: c.is_signature_valid),
)


def _fully_parsed(item, where, parts=_CERTIFICATE_PARTS):
    """Read every lazily parsed part now, so that damage is a FleetPkiError naming the part, not a library error."""
    for part, read in parts:
        try:
            read(item)
        except Exception:  # noqa: BLE001 - ValueError, UnsupportedAlgorithm, ...: the library's text is not ours to show
            raise FleetPkiError(f"{where} cannot be parsed: damaged or unsupported {part}") from None
    return item


def _certificates(parsed, source, kind):
    if kind == "certificate" and len(parsed) > 1:
        raise FleetPkiError(f"{source} holds {len(parsed)} certificates; use type=bundle to inspect them all")
    return Material("bundle" if kind == "bundle" or len(parsed) > 1 else "certificate", source, parsed, None, None, None)


def _parse_key(data, source, passphrase, loader):
    """Load a private key; error messages are our own so that no library text about the key gets out."""
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    try:
        return loader(data, password=None), False
    except TypeError:  # encrypted, and no password given
        pass
    except ValueError:
        raise FleetPkiError(f"{source} holds a private key that cannot be parsed (damaged, or an unsupported format)") from None
    except Exception:  # noqa: BLE001 - e.g. UnsupportedAlgorithm; its text is not ours to show
        raise FleetPkiError(f"{source} holds a private key of an unsupported type") from None
    if not password:
        raise FleetPkiError(f"the private key in {source} is encrypted; give its passphrase")
    try:
        return loader(data, password=password), True
    except (TypeError, ValueError):
        raise FleetPkiError(f"cannot decrypt the private key in {source}: wrong passphrase") from None
    except Exception:  # noqa: BLE001 - e.g. UnsupportedAlgorithm (an unknown cipher); its text is not ours to show
        raise FleetPkiError(f"{source} holds an encrypted private key of an unsupported type or cipher") from None


def _load_der(data, source, kind, passphrase):
    if kind in ("auto", "certificate", "bundle"):
        try:
            certificate = x509.load_der_x509_certificate(data)
        except PARSE_ERRORS:
            if kind != "auto":
                raise FleetPkiError(f"{source} is not a certificate in PEM or DER form") from None
        else:
            return Material("bundle" if kind == "bundle" else "certificate", source,
                            [_fully_parsed(certificate, f"the certificate in {source}")], None, None, None)
    if kind in ("auto", "csr"):
        try:
            csr = x509.load_der_x509_csr(data)
        except PARSE_ERRORS:
            if kind != "auto":
                raise FleetPkiError(f"{source} is not a certificate request in PEM or DER form") from None
        else:
            return Material("csr", source, [], None, _fully_parsed(csr, f"the certificate request in {source}", _CSR_PARTS),
                            None)
    if kind == "key":
        key, encrypted = _parse_key(data, source, passphrase, serialization.load_der_private_key)
        return Material("key", source, [], key, None, encrypted)
    try:
        key, encrypted = _parse_key(data, source, passphrase, serialization.load_der_private_key)
    except FleetPkiError as exc:
        if "encrypted" in str(exc) or "passphrase" in str(exc):
            raise
        raise FleetPkiError(f"{source} is not a certificate, private key or certificate request in PEM or DER form") from None
    return Material("key", source, [], key, None, encrypted)


# --- facts -----------------------------------------------------------------------------------

def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(value):
    """An ISO 8601 time (a trailing Z or no zone means UTC; a date alone means its midnight UTC)."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            moment = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise FleetPkiError(f"valid_at '{value}' is not an ISO 8601 time such as 2026-11-26T12:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def not_before(certificate):
    value = getattr(certificate, "not_valid_before_utc", None)  # cryptography >= 42
    return value if value is not None else certificate.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def not_after(certificate):
    value = getattr(certificate, "not_valid_after_utc", None)
    return value if value is not None else certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def colon_hex(data):
    return ":".join(f"{byte:02X}" for byte in data)


def _extension(holder, cls):
    try:
        return holder.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def public_key_facts(public_key):
    """Algorithm, size and curve, plus `key_type` named like fleet_pki_key_type (ec-p256, rsa-2048, ed25519)."""
    size = getattr(public_key, "key_size", None)
    curve = None
    if isinstance(public_key, rsa.RSAPublicKey):
        algorithm, key_type = "rsa", f"rsa-{size}"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = _CURVES.get(public_key.curve.name, public_key.curve.name)
        algorithm, key_type = "ec", "ec-" + curve.lower().replace("-", "")
    elif ed25519 is not None and isinstance(public_key, ed25519.Ed25519PublicKey):
        algorithm = key_type = "ed25519"
        size = 256
    elif ed448 is not None and isinstance(public_key, ed448.Ed448PublicKey):
        algorithm = key_type = "ed448"
        size = 456
    elif dsa is not None and isinstance(public_key, dsa.DSAPublicKey):
        algorithm, key_type = "dsa", f"dsa-{size}"
    else:
        algorithm = key_type = "unknown"
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "key_algorithm": algorithm,
        "key_type": key_type,
        "key_size": size,
        "key_curve": curve,
        "public_key_fingerprint_sha256": colon_hex(hashlib.sha256(spki).digest()),
    }


def _signature_name(holder):
    oid = holder.signature_algorithm_oid.dotted_string
    return _SIGNATURE_NAMES.get(oid, oid)


def _sans(holder):
    sans = list(sans_of(holder))
    return {
        "sans": san_strings(sans),
        "dns_names": [value for kind, value in sans if kind == "DNS"],
        "ip_addresses": [value for kind, value in sans if kind == "IP"],
    }


def _ekus(holder):
    extension = _extension(holder, x509.ExtendedKeyUsage)
    if extension is None:
        return []
    return [_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in extension]


def _key_usages(certificate):
    extension = _extension(certificate, x509.KeyUsage)
    if extension is None:
        return []
    names = [name for attribute, name in _KEY_USAGES if getattr(extension, attribute)]
    if extension.key_agreement:  # only readable with key_agreement set
        names += [name for attribute, name in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
                  if getattr(extension, attribute)]
    return names


def signed_by(certificate, issuer):
    """True when `issuer`'s key made the signature on `certificate` (names are checked by the caller)."""
    verify = getattr(certificate, "verify_directly_issued_by", None)  # cryptography >= 40
    try:
        if verify is not None:
            if certificate.issuer != issuer.subject:
                return False
            verify(issuer)
            return True
        return _verify_signature(certificate, issuer.public_key())
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _verify_signature(certificate, public_key):
    """The pre-40 fallback: PKCS#1 v1.5, ECDSA and EdDSA signatures (not RSA-PSS)."""
    data, signature = certificate.tbs_certificate_bytes, certificate.signature
    if isinstance(public_key, rsa.RSAPublicKey):
        if certificate.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10":
            raise ValueError("RSA-PSS needs cryptography >= 40")
        public_key.verify(signature, data, padding.PKCS1v15(), certificate.signature_hash_algorithm)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(certificate.signature_hash_algorithm))
    else:
        public_key.verify(signature, data)
    return True


def certificate_facts(certificate, now):
    """Every public fact of one certificate; `now` (aware datetime) drives days_left and expired."""
    constraints = _extension(certificate, x509.BasicConstraints)
    ski = _extension(certificate, x509.SubjectKeyIdentifier)
    aki = _extension(certificate, x509.AuthorityKeyIdentifier)
    start, end = not_before(certificate), not_after(certificate)
    issuer_cn = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    facts = {
        "subject": certificate.subject.rfc4514_string(),
        "common_name": common_name(certificate),
        "issuer": certificate.issuer.rfc4514_string(),
        "issuer_common_name": issuer_cn[0].value if issuer_cn else "",
        "serial": serial_hex(certificate.serial_number),
        "not_before": iso(start),
        "not_after": iso(end),
        # Whole days, rounded down: 0 means "less than a day left", negative means expired.
        "days_left": math.floor((end - now).total_seconds() / 86400),
        "expired": now > end,
        "not_yet_valid": now < start,
        "is_ca": bool(constraints and constraints.ca),
        "path_length": constraints.path_length if constraints and constraints.ca else None,
        "self_signed": certificate.issuer == certificate.subject and signed_by(certificate, certificate),
        "signature_algorithm": _signature_name(certificate),
        "fingerprint_sha256": fingerprint_sha256(certificate),
        "fingerprint_sha1": colon_hex(certificate.fingerprint(hashes.SHA1())),
        "extended_key_usage": _ekus(certificate),
        "key_usage": _key_usages(certificate),
        "subject_key_identifier": colon_hex(ski.digest) if ski else None,
        "authority_key_identifier": colon_hex(aki.key_identifier) if aki and aki.key_identifier else None,
    }
    facts.update(_sans(certificate))
    facts.update(public_key_facts(certificate.public_key()))
    return facts


def csr_facts(csr):
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    facts = {
        "subject": csr.subject.rfc4514_string(),
        "common_name": cn[0].value if cn else "",
        "signature_valid": csr.is_signature_valid,
        "signature_algorithm": _signature_name(csr),
        "extended_key_usage": _ekus(csr),
    }
    facts.update(_sans(csr))
    facts.update(public_key_facts(csr.public_key()))
    return facts


def facts(material, now=None):
    """The result dict for a Material: `type`, then the facts. A bundle lists every certificate in
    `certificates` and repeats the first one's facts at the top, so `days_left` reads the same for both."""
    now = parse_time(now) if now is not None else now_utc()
    result = {"type": material.kind}
    if material.kind in ("certificate", "bundle"):
        described = [certificate_facts(certificate, now) for certificate in material.certificates]
        result.update(described[0])
        result["certificates"] = described
    elif material.kind == "csr":
        result.update(csr_facts(material.csr))
    else:
        result.update(public_key_facts(material.private_key.public_key()))
        result["encrypted"] = material.encrypted
    return result


def inspect(data, source="content", kind="auto", passphrase=None, now=None):
    return facts(load(data, source, kind, passphrase), now)


# --- checks ----------------------------------------------------------------------------------

def _spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def subject_public_key(material):
    """The public key a key match compares: the first certificate's or the CSR's."""
    if material.kind in ("certificate", "bundle"):
        return material.certificates[0].public_key()
    if material.kind == "csr":
        return material.csr.public_key()
    raise FleetPkiError(f"{material.source} is a private key; a key match needs a certificate or a CSR to compare it with")


def key_matches(material, key_material):
    """True when the private key is the one for the certificate (or CSR): same SubjectPublicKeyInfo."""
    if key_material.kind != "key":
        raise FleetPkiError(f"{key_material.source} is not a private key")
    return _spki(subject_public_key(material)) == _spki(key_material.private_key.public_key())


def _dns_matches(pattern, name):
    if pattern == name:
        return True
    # A wildcard covers exactly one left-most label (RFC 6125).
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:]
    return False


def name_problem(certificate, expected_name):
    """None when the certificate has a SAN for `expected_name` (an IP or a DNS name), else the reason."""
    sans = sans_of(certificate)
    subject = certificate.subject.rfc4514_string()
    if not sans:
        return f"'{subject}' has no subjectAltName, so no client accepts it for '{expected_name}' (clients ignore the CN)"
    address = parse_ip(expected_name)
    if address is not None:
        matched = any(kind == "IP" and ipaddress.ip_address(value) == address for kind, value in sans)
    else:
        name = normalise_dns_name(expected_name)
        matched = any(kind == "DNS" and _dns_matches(value, name) for kind, value in sans)
    if matched:
        return None
    return f"'{subject}' has no SAN matching '{expected_name}' (its SANs: {', '.join(san_strings(sans))})"


def _validity_problem(certificate, now):
    subject = certificate.subject.rfc4514_string()
    if now > not_after(certificate):
        return f"'{subject}' expired on {iso(not_after(certificate))}"
    if now < not_before(certificate):
        return f"'{subject}' is not valid before {iso(not_before(certificate))}"
    return None


def _issuer_problems(issuer, below):
    """What stops `issuer` from signing certificates, `below` being the number of CAs between it and the leaf."""
    subject = issuer.subject.rfc4514_string()
    constraints = _extension(issuer, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        return [f"'{subject}' is not a CA certificate (BasicConstraints CA:TRUE is missing)"]
    problems = []
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        problems.append(f"'{subject}' may not sign certificates (its KeyUsage lacks keyCertSign)")
    if constraints.path_length is not None and below > constraints.path_length:
        problems.append(f"'{subject}' allows a path length of {constraints.path_length}, "
                        f"but {below} intermediate CA(s) sit below it")
    return problems


def _build_path(leaf, pool, anchors):
    """[leaf, intermediates...], the anchor that ends it (or None), and the reason when there is none."""
    path = [leaf]
    current = leaf
    for _depth in range(MAX_CHAIN_DEPTH):
        for anchor in anchors:
            if anchor == current:  # the certificate is itself trusted
                return path[:-1] or path, anchor, None
        named = [anchor for anchor in anchors if anchor.subject == current.issuer]
        for anchor in named:
            if signed_by(current, anchor):
                return path, anchor, None
        candidates = [cert for cert in pool if cert.subject == current.issuer and cert not in path]
        signer = next((cert for cert in candidates if signed_by(current, cert)), None)
        if signer is None:
            subject = current.subject.rfc4514_string()
            if named:
                return path, None, (f"signature of '{subject}' does not verify with CA '{named[0].subject.rfc4514_string()}' "
                                    f"(same name, different key: was the CA re-created?)")
            if candidates:
                return path, None, (f"signature of '{subject}' does not verify with intermediate "
                                    f"'{candidates[0].subject.rfc4514_string()}' from the bundle")
            trusted = ", ".join(f"'{anchor.subject.rfc4514_string()}'" for anchor in anchors)
            return path, None, (f"'{subject}' is issued by '{current.issuer.rfc4514_string()}', which is not the CA "
                                f"({trusted}) and not in the bundle")
        path.append(signer)
        current = signer
    return path, None, f"no path to the CA within {MAX_CHAIN_DEPTH} certificates"


def verify_chain(certificates, anchors, now=None, expected_name=None):
    """Verify certificates[0] through the others (intermediates, any order) to one of `anchors`.

    Returns (valid, errors, method). Our own checks always run and give the reasons: issuer and
    subject linkage, signatures, validity at `now` of every certificate in the path including the CA,
    CA:TRUE, keyCertSign and path length of every issuer, and the SAN for `expected_name`. Where
    cryptography >= 42 offers `x509.verification`, its RFC 5280 / CA/B Forum verifier then checks
    the same chain as a second opinion (`method` says whether it ran); it catches what we do not model,
    such as weak keys, SHA-1, or a missing AKI.
    """
    now = parse_time(now) if now is not None else now_utc()
    if not certificates:
        raise FleetPkiError("no certificate to verify")
    if not anchors:
        raise FleetPkiError("no CA certificate to verify against")
    leaf = certificates[0]
    path, anchor, link_error = _build_path(leaf, list(certificates[1:]), list(anchors))
    errors = [link_error] if link_error else []
    issuers = path[1:] + ([anchor] if anchor is not None else [])
    for certificate in path + ([anchor] if anchor is not None and anchor not in path else []):
        problem = _validity_problem(certificate, now)
        if problem:
            errors.append(problem)
    for below, issuer in enumerate(issuers):
        if issuer != leaf:
            errors.extend(_issuer_problems(issuer, below))
    if expected_name:
        problem = name_problem(leaf, expected_name)
        if problem:
            errors.append(problem)
    method = "fleet.pki"
    if not errors and verification is not None and anchor is not None and leaf != anchor:
        method = "fleet.pki+cryptography.x509.verification"
        problem = _policy_problem(leaf, [cert for cert in certificates[1:] if cert != anchor], list(anchors),
                                  now, expected_name)
        if problem:
            errors.append(problem)
    return not errors, errors, method


def _policy_problem(leaf, intermediates, anchors, now, expected_name):
    """cryptography's own path builder and profile checks, as a server or client verifier as the EKU says."""
    builder = verification.PolicyBuilder().store(verification.Store(anchors)).time(now)
    ekus = set(_ekus(leaf))
    try:
        if ekus and "serverAuth" not in ekus and "clientAuth" in ekus and not expected_name:
            builder.build_client_verifier().verify(leaf, intermediates)
            return None
        name = expected_name
        if not name:
            sans = sans_of(leaf)
            if not sans:
                return None  # nothing to check a server name against; the profile needs a SAN anyway
            name = sans[0][1]
        address = parse_ip(name)
        subject = (verification.IPAddress(address) if address is not None
                   else verification.DNSName(normalise_dns_name(name)))
        builder.build_server_verifier(subject).verify(leaf, intermediates)
    except verification.VerificationError as exc:
        return f"cryptography's RFC 5280 verifier rejects the chain: {exc}"
    return None
