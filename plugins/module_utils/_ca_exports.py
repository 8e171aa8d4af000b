# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Public exports of the fleet CA for clients set up by hand or by MDM.

<pki_dir>/ca/ca.der.crt       the CA certificate in DER (Android "CA certificate", Windows double-click import)
<pki_dir>/ca/ca.mobileconfig  an unsigned Apple configuration profile with one com.apple.security.root payload

Both are byte-for-byte functions of the CA certificate, so a rerun rewrites nothing.
"""

from __future__ import annotations

import os
import plistlib
import uuid

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import read_file, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._authority import CA_DIR
from ansible_collections.fleet.pki.plugins.module_utils._crypto import NameOID, require_cryptography, serialization
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import sha256_hex, validate_label

DER_FILE = "ca.der.crt"
MOBILECONFIG_FILE = "ca.mobileconfig"
EXPORT_FILES = (DER_FILE, MOBILECONFIG_FILE)
EXPORT_MODE = 0o644  # public certificates: anyone who talks to the devices may read them

# Fixed forever: the profile UUIDs derive from it, and a changed UUID makes devices see a different profile.
_UUID_NAMESPACE = uuid.UUID("296BC2F5-6E00-4E68-8BD4-624B0D427632")
_IDENTIFIER_PREFIX = "fleet.pki"


def export_paths(pki_dir):
    """(DER path, mobileconfig path) of the CA exports in `pki_dir`."""
    return tuple(os.path.join(pki_dir, CA_DIR, name) for name in EXPORT_FILES)


def der_certificate(certificate):
    """The certificate in DER."""
    require_cryptography()
    return certificate.public_bytes(serialization.Encoding.DER)


def mobileconfig(certificate, label):
    """An unsigned configuration profile (XML plist) that installs `certificate` as a root on iOS, iPadOS and macOS.

    `label` (the CA's trust-store label) names the identifiers and the certificate file, so a new CA gets a
    profile of its own instead of replacing the old one's.
    """
    validate_label(label)
    der = der_certificate(certificate)
    fingerprint = sha256_hex(der)
    name = _attribute(certificate, NameOID.COMMON_NAME) or label  # our CAs always have a CN; a foreign one may not
    organization = _attribute(certificate, NameOID.ORGANIZATION_NAME)
    identifier = f"{_IDENTIFIER_PREFIX}.{label}"
    root = {
        "PayloadCertificateFileName": f"{label}.cer",
        "PayloadContent": der,
        "PayloadDescription": f"Adds the root certificate {name} to the trusted certificates.",
        "PayloadDisplayName": name,
        "PayloadIdentifier": f"{identifier}.root",
        "PayloadType": "com.apple.security.root",
        "PayloadUUID": _uuid(fingerprint, "root"),
        "PayloadVersion": 1,
    }
    profile = {
        "PayloadContent": [root],
        "PayloadDescription": (
            f"Installs the root certificate of {name} (SHA-256 {_colon_hex(fingerprint)}) so that this device "
            "trusts the TLS certificates of the fleet's devices. On iPhone and iPad, then turn on full trust for it "
            "in Settings > General > About > Certificate Trust Settings."
        ),
        "PayloadDisplayName": name,
        "PayloadIdentifier": identifier,
        "PayloadType": "Configuration",
        "PayloadUUID": _uuid(fingerprint, "profile"),
        "PayloadVersion": 1,
    }
    if organization:
        profile["PayloadOrganization"] = organization
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


def write_exports(pki_dir, certificate, label, check_mode=False):
    """Bring both exports up to date. Returns the names of the files that were (or, in check mode, would be)
    written; an export with the right content is left alone, only its mode is corrected."""
    contents = (der_certificate(certificate), mobileconfig(certificate, label))
    changed = []
    for name, path, data in zip(EXPORT_FILES, export_paths(pki_dir), contents):
        if read_file(path) != data:
            changed.append(name)
            if not check_mode:
                write_file_atomic(path, data, mode=EXPORT_MODE)
        elif _mode(path) != EXPORT_MODE:
            changed.append(name)
            if not check_mode:
                _chmod(path)
    return changed


def _attribute(certificate, oid):
    values = certificate.subject.get_attributes_for_oid(oid)
    return values[0].value if values else ""


def _colon_hex(fingerprint):
    """AB:CD:... as openssl and the task result show it, for comparing by eye."""
    return bytes.fromhex(fingerprint).hex(":").upper()


def _uuid(fingerprint, role):
    return str(uuid.uuid5(_UUID_NAMESPACE, f"{fingerprint}/{role}")).upper()


def _mode(path):
    return os.stat(path).st_mode & 0o7777


def _chmod(path):
    try:
        os.chmod(path, EXPORT_MODE)
    except OSError as exc:
        raise FleetPkiError(f"cannot set mode {EXPORT_MODE:04o} on {path}: {exc.strerror}") from None
