# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Certificate profiles: the extensions and limits every client we target accepts.

Sources: Apple HT210176 (SAN, serverAuth, <= 825 days, RSA >= 2048), Chrome 58+ (SAN required),
OpenSSL 3.2 security level 2. See DESIGN.md, "Profiles".
"""

from __future__ import annotations

import ipaddress

from ansible_collections.fleet.pki.plugins.module_utils._crypto import ExtendedKeyUsageOID, rsa, x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._shown import shown

PROFILES = ("server", "client", "server_client")
DEFAULT_PROFILE = "server"
DEFAULT_LEAF_VALIDITY_DAYS = 365
MAX_LEAF_VALIDITY_DAYS = 825  # Apple rejects longer leaves, even from private roots
DEFAULT_CA_VALIDITY_DAYS = 3650
MAX_CA_VALIDITY_DAYS = 36500

_EKU_NAMES = {"server": ("serverAuth",), "client": ("clientAuth",), "server_client": ("serverAuth", "clientAuth")}


def validate_profile(value):
    if value not in PROFILES:
        raise FleetPkiError(f"profile {shown(value)} is not one of {', '.join(PROFILES)}")
    return value


def validate_leaf_validity(days):
    days = _as_int(days, "validity_days")
    if days < 1:
        raise FleetPkiError(f"validity_days {days} must be at least 1")
    if days > MAX_LEAF_VALIDITY_DAYS:
        raise FleetPkiError(
            f"validity_days {days} is over {MAX_LEAF_VALIDITY_DAYS}: Apple clients reject such leaf certificates"
        )
    return days


def validate_ca_validity(days):
    days = _as_int(days, "validity_days")
    if not 1 <= days <= MAX_CA_VALIDITY_DAYS:
        raise FleetPkiError(f"CA validity_days {days} must be between 1 and {MAX_CA_VALIDITY_DAYS}")
    return days


def _as_int(value, name):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FleetPkiError(f"{name} '{value}' is not a whole number of days") from None


def eku_names(profile):
    """The extended key usages a profile stands for, by their short names."""
    return _EKU_NAMES[validate_profile(profile)]


def profile_from_eku(names):
    """The profile whose EKUs are exactly `names`, or None."""
    wanted = set(names)
    for profile, ekus in _EKU_NAMES.items():
        if set(ekus) == wanted:
            return profile
    return None


def eku_name(oid):
    if oid == ExtendedKeyUsageOID.SERVER_AUTH:
        return "serverAuth"
    if oid == ExtendedKeyUsageOID.CLIENT_AUTH:
        return "clientAuth"
    return oid.dotted_string


def leaf_extensions(profile, public_key, sans, ca_certificate, subject_is_empty=False):
    """(extension, critical) pairs for a leaf certificate."""
    oids = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    ca_ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage(digital_signature=True, key_encipherment=is_rsa), True),
        (x509.ExtendedKeyUsage([oids[name] for name in eku_names(profile)]), False),
        (x509.SubjectAlternativeName(_general_names(sans)), subject_is_empty),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False),
    ]


def ca_extensions(public_key, name_constraints=None):
    """(extension, critical) pairs for the fleet root. pathlen 0: it signs leaves only."""
    extensions = [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_key_usage(key_cert_sign=True, crl_sign=True), True),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), False),
    ]
    if name_constraints is not None:
        extensions.append((name_constraints, True))
    return extensions


def _key_usage(digital_signature=False, key_encipherment=False, key_cert_sign=False, crl_sign=False):
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=key_encipherment,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=crl_sign,
        encipher_only=False, decipher_only=False,
    )


def _general_names(sans):
    names = []
    for kind, value in sans:
        if kind == "IP":
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        else:
            names.append(x509.DNSName(value))
    return names
