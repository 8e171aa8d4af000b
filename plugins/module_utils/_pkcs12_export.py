# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""PKCS#12 (.p12) of a device: key, certificate and CA under a password, at a chosen encryption level.

PKCS#12 bytes differ on every run (random salts and IVs), so a file is never compared by bytes. It is kept when it
opens with the current password, holds the same key, certificate and CA certificates, and its MAC uses the digest of
the wanted level; otherwise it is rewritten. Nothing about the password is stored anywhere else.

Levels:
- `compat`: keys and certificates under PBE-SHA1-3DES, MAC HMAC-SHA1. Older Windows, macOS, iOS and Android import it;
  OpenSSL 3 reads it without the legacy provider (3DES stays in the default provider).
- `modern`: PBES2 (PBKDF2-SHA256, AES-256-CBC), MAC HMAC-SHA256.
"""

from __future__ import annotations

from ansible_collections.fleet.pki.plugins.module_utils._crypto import hashes, require_cryptography, serialization
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

try:
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.hazmat.primitives.serialization.pkcs12 import PBES
except ImportError:  # handled by require_cryptography()
    pkcs12 = PBES = None

ENCRYPTION_LEVELS = ("compat", "modern")
DEFAULT_ENCRYPTION = "compat"
KDF_ROUNDS = 50000
# DER of the OIDs that name the MAC digest in MacData: sha1 (1.3.14.3.2.26) and sha256 (2.16.840.1.101.3.4.2.1)
MAC_DIGESTS = {"compat": "sha1", "modern": "sha256"}
_DIGEST_OIDS = {b"\x2b\x0e\x03\x02\x1a": "sha1", b"\x60\x86\x48\x01\x65\x03\x04\x02\x01": "sha256"}


def validate_encryption(value):
    if value not in ENCRYPTION_LEVELS:
        raise FleetPkiError(f"fleet_pki_pkcs12_encryption '{value}' is not one of {', '.join(ENCRYPTION_LEVELS)}")
    return value


def _encryption(level, password):
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(KDF_ROUNDS)
    if level == "compat":
        builder = builder.key_cert_algorithm(PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
    else:
        builder = builder.key_cert_algorithm(PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
    return builder.build(password.encode())


def build(name, key, certificate, ca_certificates, password, level):
    """PKCS#12 bytes. `key` and certificates are cryptography objects; `name` is the friendly name (the host)."""
    require_cryptography()
    if not password:
        raise FleetPkiError("a PKCS#12 needs a password (fleet_pki_pkcs12_password)")
    return pkcs12.serialize_key_and_certificates(name.encode(), key, certificate, list(ca_certificates) or None,
                                                 _encryption(validate_encryption(level), password))


def mac_digest(data):
    """The MAC digest name of PFX bytes ('sha1', 'sha256', ...), or None when there is no MAC or it is not readable."""
    try:
        pfx, _rest = _tlv(data, 0)
        offset = pfx[1]
        _version, offset = _tlv(data, offset)
        _auth_safe, offset = _tlv(data, offset)
        if offset >= pfx[2]:
            return None
        mac_data, _end = _tlv(data, offset)
        digest_info, _end = _tlv(data, mac_data[1])
        algorithm, _end = _tlv(data, digest_info[1])
        oid, _end = _tlv(data, algorithm[1])
    except (IndexError, ValueError):
        return None
    if oid[0] != 0x06:
        return None
    return _DIGEST_OIDS.get(bytes(data[oid[1]:oid[2]]), "other")


def _tlv(data, offset):
    """((tag, content start, content end), next offset) of the DER element at `offset`."""
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return (tag, start, end), end


def holds(data, key, certificate, ca_certificates, password, level):
    """True when PFX `data` opens with `password`, holds exactly this key, certificate and CA list, at `level`."""
    require_cryptography()
    if data is None or not password:
        return False
    if mac_digest(data) != MAC_DIGESTS[validate_encryption(level)]:
        return False
    try:
        held_key, held_cert, held_cas = pkcs12.load_key_and_certificates(data, password.encode())
    except (ValueError, TypeError):
        return False
    if held_key is None or held_cert is None:
        return False
    der = serialization.Encoding.DER
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    return (held_cert.public_bytes(der) == certificate.public_bytes(der)
            and held_key.private_bytes(der, pkcs8, none) == key.private_bytes(der, pkcs8, none)
            and [ca.public_bytes(der) for ca in held_cas] == [ca.public_bytes(der) for ca in ca_certificates])
