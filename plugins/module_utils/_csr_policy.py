# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The CA's policy for a CSR made on a device (key_location 'device').

A CSR contributes exactly one thing to the certificate: its public key, after its signature proved that the
device holds the private key, and after the key passed the same rules as a key the controller would make.
Everything else a CSR asks for (subject, SANs, CA:TRUE, key usages, EKUs, any other extension) is ignored:
issue() builds the certificate from the inventory and the profile only. What was ignored is named, so the
task can warn about it. (community.crypto's ownca copies every CSR extension verbatim, CA:TRUE included.)
"""

from __future__ import annotations

import ipaddress

from ansible_collections.fleet.pki.plugins.module_utils._crypto import NameOID, require_cryptography, rsa, x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_types import key_type_of, validate_key_type
from ansible_collections.fleet.pki.plugins.module_utils._names import san_strings
from ansible_collections.fleet.pki.plugins.module_utils._profiles import eku_names

_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth", "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection", "1.3.6.1.5.5.7.3.8": "timeStamping", "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}
_KEY_USAGE_FLAGS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                    "key_agreement", "key_cert_sign", "crl_sign")


def load_csr(host, csr_pem):
    require_cryptography()
    if isinstance(csr_pem, str):
        csr_pem = csr_pem.encode()
    try:
        return x509.load_pem_x509_csr(csr_pem or b"")
    except ValueError:
        raise FleetPkiError(f"host {host}: the device's CSR is not a readable PEM certificate request") from None


def check_csr(host, csr_pem, request, key_type):
    """Validate a device's CSR under the CA's policy. Returns (public key to certify, list of ignored requests).

    Raises FleetPkiError, naming the host and the value, when the signature does not verify (no proof of
    possession), or the key is weak, of a type the CA does not issue, or not `key_type`.
    """
    csr = load_csr(host, csr_pem)
    try:
        signature_ok = csr.is_signature_valid
    except (ValueError, TypeError):  # an unsupported or malformed key or signature algorithm
        signature_ok = False
    if not signature_ok:
        raise FleetPkiError(f"host {host}: the device's CSR (subject '{_subject(csr)}') is refused: its signature "
                            "does not verify, so it does not prove possession of the private key")
    public_key = csr.public_key()
    actual = key_type_of(public_key)
    try:
        validate_key_type(actual)
    except FleetPkiError as exc:
        raise FleetPkiError(f"host {host}: the device's CSR is refused: {exc}") from None
    if actual != key_type:
        raise FleetPkiError(f"host {host}: the device's CSR is refused: its key type is '{actual}', "
                            f"but fleet_pki_key_type is '{key_type}'")
    return public_key, ignored_requests(csr, request, public_key)


def ignored_requests(csr, request, public_key=None):
    """What the CSR asks for that the certificate will not have, in words (empty for our own devices' CSRs)."""
    ignored = []
    wanted_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, request.common_name)] if request.common_name else [])
    if csr.subject != wanted_subject:
        ignored.append(f"subject '{_subject(csr)}'")
    try:
        extensions = list(csr.extensions)
    except (ValueError, TypeError) as exc:  # duplicate or unparsable extensions: none of them is used anyway
        return ignored + [f"unreadable extensions ({exc})"]
    granted_sans = set(san_strings(request.sans))
    granted_ekus = set(eku_names(request.profile))
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.SubjectAlternativeName):
            foreign = [name for name in _san_names(value) if name not in granted_sans]
            if foreign:
                ignored.append(f"SANs not in the inventory ({', '.join(foreign)})")
        elif isinstance(value, x509.BasicConstraints):
            if value.ca:
                ignored.append("CA:TRUE" + (f" (pathlen {value.path_length})" if value.path_length is not None else ""))
        elif isinstance(value, x509.ExtendedKeyUsage):
            extra = [_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in value]
            extra = [name for name in extra if name not in granted_ekus]
            if extra:
                ignored.append(f"extended key usage {', '.join(extra)}")
        elif isinstance(value, x509.KeyUsage):
            granted = {"digital_signature"} | ({"key_encipherment"} if isinstance(public_key, rsa.RSAPublicKey) else set())
            extra = [flag for flag in _KEY_USAGE_FLAGS if getattr(value, flag) and flag not in granted]
            if extra:
                ignored.append(f"key usage {', '.join(extra)}")
        else:
            name = getattr(extension.oid, "_name", None) or extension.oid.dotted_string
            ignored.append(f"extension {name}")
    return ignored


def ignored_warning(host, ignored, request):
    return (f"host {host}: the device's CSR asked for {'; '.join(ignored)}. Ignored: the certificate is built from "
            f"the inventory and the '{request.profile}' profile only (CA:FALSE, SANs {', '.join(san_strings(request.sans))})")


def _san_names(extension):
    names = [f"IP:{ipaddress.ip_address(value)}" if not isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network))
             else f"IP:{value}" for value in extension.get_values_for_type(x509.IPAddress)]
    names += [f"DNS:{value.lower()}" for value in extension.get_values_for_type(x509.DNSName)]
    names += [f"email:{value}" for value in extension.get_values_for_type(x509.RFC822Name)]
    names += [f"URI:{value}" for value in extension.get_values_for_type(x509.UniformResourceIdentifier)]
    return names


def _subject(csr):
    return csr.subject.rfc4514_string()
