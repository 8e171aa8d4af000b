# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Does a private key belong to a certificate? Answered on the device, so the key never travels.

Uses Python `cryptography` where the device has it and the device's `openssl` CLI where it does
not. The answer is one of: matches, mismatch, missing, unreadable, unknown.
"""

from __future__ import annotations

import os

from ansible_collections.fleet.pki.plugins.module_utils._crypto import HAS_CRYPTOGRAPHY, load_own_private_key, serialization, x509


def key_state(key_path, cert_pem, run_command=None):
    """`run_command(args, data=None) -> (rc, out, err)`, like AnsibleModule.run_command, serves the CLI fallback."""
    if not os.path.exists(key_path):
        return "missing"
    if not cert_pem:
        return "unknown"
    if HAS_CRYPTOGRAPHY:
        return _with_cryptography(key_path, cert_pem)
    if run_command is not None:
        return _with_openssl(key_path, cert_pem, run_command)
    return "unknown"


def _with_cryptography(key_path, cert_pem):
    try:
        with open(key_path, "rb") as handle:
            key = load_own_private_key(handle.read())
        certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    except (OSError, ValueError, TypeError):
        return "unreadable"
    # Compare the encoded public keys: key objects only compare equal in newer cryptography releases
    # (Debian 12 ships 38, where == is identity and every key would look foreign).
    return "matches" if _spki(key.public_key()) == _spki(certificate.public_key()) else "mismatch"


def _spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _with_openssl(key_path, cert_pem, run_command):
    try:
        rc, key_out, _err = run_command(["openssl", "pkey", "-in", key_path, "-pubout", "-passin", "pass:"])
        if rc != 0:
            return "unreadable"
        rc, cert_out, _err = run_command(["openssl", "x509", "-noout", "-pubkey"], data=cert_pem)
    except OSError:  # no openssl on the device
        return "unknown"
    if rc != 0:
        return "unknown"
    return "matches" if key_out.strip() == cert_out.strip() else "mismatch"
