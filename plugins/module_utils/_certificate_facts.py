# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Read certificates: PEM parsing and the plain facts the decision and the task results need."""

from __future__ import annotations

import datetime
import ipaddress

from ansible_collections.fleet.pki.plugins.module_utils._crypto import (
    PARSE_ERRORS, InvalidSignature, NameOID, UnsupportedAlgorithm, hashes, require_cryptography, serialization, x509,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_types import key_type_of
from ansible_collections.fleet.pki.plugins.module_utils._names import normalise_sans, san_strings
from ansible_collections.fleet.pki.plugins.module_utils._profiles import eku_name, profile_from_eku
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import Held
from ansible_collections.fleet.pki.plugins.module_utils._serials import serial_hex


def load_certificate(pem, what="certificate"):
    require_cryptography()
    if isinstance(pem, str):
        pem = pem.encode()
    try:
        return x509.load_pem_x509_certificate(pem)
    except PARSE_ERRORS:
        raise FleetPkiError(f"{what} is not a readable PEM certificate") from None


def to_pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint_sha256(certificate):
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def common_name(certificate):
    values = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return values[0].value if values else ""


def sans_of(certificate):
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    sans = [("IP", value) for value in extension.get_values_for_type(x509.IPAddress)
            if not isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network))]
    sans += [("DNS", value) for value in extension.get_values_for_type(x509.DNSName)]
    return normalise_sans(sans)


def ekus_of(certificate):
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(sorted(eku_name(oid) for oid in extension))


def is_issued_by(certificate, ca_certificate):
    """True when `ca_certificate`'s key signed `certificate` (so a CA renewed with the same key still counts)."""
    if certificate.issuer != ca_certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def utc(moment):
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(certificate):
    """The facts a task returns and diff mode shows. Public data only."""
    sans = sans_of(certificate)
    return {
        "serial": serial_hex(certificate.serial_number),
        "subject": certificate.subject.rfc4514_string(),
        "not_before": iso(certificate.not_valid_before_utc),
        "not_after": iso(certificate.not_valid_after_utc),
        "sans": san_strings(sans),
        "fingerprint_sha256": fingerprint_sha256(certificate),
        "key_type": key_type_of(certificate.public_key()),
        "extended_key_usage": list(ekus_of(certificate)),
    }


def public_summary(certificate):
    """What a task returns and diff mode shows about a certificate (or None): serial, not_after, sans, fingerprint."""
    if certificate is None:
        return {"serial": None, "not_after": None, "sans": [], "fingerprint_sha256": None}
    return {"serial": serial_hex(certificate.serial_number), "not_after": iso(certificate.not_valid_after_utc),
            "sans": san_strings(sans_of(certificate)), "fingerprint_sha256": fingerprint_sha256(certificate)}


def summary_text(summary):
    """A public_summary() as diff text."""
    lines = [f"serial: {summary['serial'] or '(none)'}", f"not_after: {summary['not_after'] or '(none)'}", "sans:"]
    lines += [f"  - {san}" for san in summary["sans"]]
    return "\n".join(lines) + "\n"


def held_certificate(cert_pem, key_state, ca_certificate):
    """Turn what a host reports (certificate PEM or None, key state) into (the decision's `Held`, the parsed
    certificate or None)."""
    if not cert_pem:
        return Held(state="missing", detail="no certificate on the host"), None
    # A damaged certificate can parse and still fail when a part is first read: all of it counts as unreadable.
    try:
        certificate = load_certificate(cert_pem)
        held = Held(
            state="present",
            key_state=key_state,
            sans=sans_of(certificate),
            common_name=common_name(certificate),
            profile=profile_from_eku(ekus_of(certificate)),
            key_type=key_type_of(certificate.public_key()),
            serial=serial_hex(certificate.serial_number),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            issued_by_current_ca=is_issued_by(certificate, ca_certificate),
        )
    except (FleetPkiError, UnsupportedAlgorithm, *PARSE_ERRORS):
        return Held(state="unreadable", detail="the certificate on the host is not a readable PEM certificate"), None
    return held, certificate
