# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""One guarded import of the `cryptography` package for the whole core.

Targets may lack `cryptography`; importing this file must still work there, so that device-side
modules can fall back to the openssl CLI. Callers that need it call `require_cryptography()`.
"""

from __future__ import annotations

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    x509 = InvalidSignature = hashes = serialization = ec = rsa = ExtendedKeyUsageOID = NameOID = None
    UnsupportedAlgorithm = ValueError  # never raised: require_cryptography() fails first
else:
    HAS_CRYPTOGRAPHY = True
# What the certificate and CSR loaders raise for bad input: InvalidVersion is no ValueError.
PARSE_ERRORS = (ValueError, getattr(x509, "InvalidVersion", ValueError))


def require_cryptography():
    if not HAS_CRYPTOGRAPHY:
        raise FleetPkiError("the Python 'cryptography' package is required on the control node (pip install cryptography)")


def load_own_private_key(data):
    """An unencrypted PEM key that fleet.pki wrote itself (a leaf key): RSA's consistency check is skipped.

    That check costs milliseconds per RSA key and guards against keys crafted by someone else; these come
    from our own writer. The CA key is always loaded with the check. Raises ValueError or TypeError.
    """
    try:
        return serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError as exc:
        if "unsafe_skip_rsa_key_validation" not in str(exc):
            raise
        return serialization.load_pem_private_key(data, password=None)  # cryptography < 39


__all__ = [
    "HAS_CRYPTOGRAPHY", "InvalidSignature", "ExtendedKeyUsageOID", "NameOID", "PARSE_ERRORS", "UnsupportedAlgorithm",
    "ec", "hashes", "load_own_private_key", "require_cryptography", "rsa", "serialization", "x509",
]
