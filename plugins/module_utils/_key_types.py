# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Key types by name ("ec-p256", "rsa-2048", ...): validate, generate and recognise them."""

from __future__ import annotations

import re

from ansible_collections.fleet.pki.plugins.module_utils._crypto import ec, hashes, require_cryptography, rsa, serialization
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._shown import shown

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096")
DEFAULT_KEY_TYPE = "ec-p256"
_CURVES = {"ec-p256": "secp256r1", "ec-p384": "secp384r1"}


def validate_key_type(value):
    """Return the key type, or raise with the reason clients would give for refusing it."""
    text = str(value).strip().lower()
    match = re.fullmatch(r"rsa-?(\d+)", text)
    if match and int(match.group(1)) < 2048:
        raise FleetPkiError(
            f"key type {shown(value)} is refused: RSA below 2048 bits is rejected by OpenSSL 3.2 (security level 2) and Apple"
        )
    match = re.fullmatch(r"(?:ec-?)?(?:p-?|secp|prime)(\d+)[rv]?1?", text)
    if match and int(match.group(1)) < 256:
        raise FleetPkiError(
            f"key type {shown(value)} is refused: browsers accept no EC curve below P-256 "
            "(the CA/Browser Forum allows P-256, P-384 and P-521)"
        )
    if value not in KEY_TYPES:
        if text.startswith("dsa"):
            raise FleetPkiError(f"key type {shown(value)} is not one of {', '.join(KEY_TYPES)}: TLS 1.3 and current "
                                "browsers do not accept DSA")
        raise FleetPkiError(f"key type {shown(value)} is not one of {', '.join(KEY_TYPES)}")
    return value


def generate_private_key(key_type):
    require_cryptography()
    validate_key_type(key_type)
    if key_type.startswith("ec-"):
        return ec.generate_private_key(getattr(ec, _CURVES[key_type].upper())())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))


def private_key_pem(key):
    """A new key as unencrypted PKCS#8 PEM text (it is written with mode 0600, or sent under no_log)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def key_type_of(public_key):
    """Name a public key the way KEY_TYPES does (or descriptively, for a type we do not issue)."""
    require_cryptography()
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        for name, curve in _CURVES.items():
            if public_key.curve.name == curve:
                return name
        return f"ec-{public_key.curve.name}"
    return type(public_key).__name__


def signature_hash_for(private_key):
    """SHA-384 for P-384 CAs (matching strength), SHA-256 otherwise."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()
