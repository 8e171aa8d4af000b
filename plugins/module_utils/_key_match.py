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
import shutil
import subprocess

from ansible_collections.fleet.pki.plugins.module_utils._crypto import HAS_CRYPTOGRAPHY, serialization, x509


def key_state(key_path, cert_pem):
    if not os.path.exists(key_path):
        return "missing"
    if not cert_pem:
        return "unknown"
    if HAS_CRYPTOGRAPHY:
        return _with_cryptography(key_path, cert_pem)
    if shutil.which("openssl"):
        return _with_openssl(key_path, cert_pem)
    return "unknown"


def _with_cryptography(key_path, cert_pem):
    try:
        with open(key_path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    except (OSError, ValueError, TypeError):
        return "unreadable"
    return "matches" if key.public_key() == certificate.public_key() else "mismatch"


def _with_openssl(key_path, cert_pem):
    env = dict(os.environ, LC_ALL="C")
    key = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-passin", "pass:"],
                         capture_output=True, check=False, env=env, stdin=subprocess.DEVNULL)
    if key.returncode != 0:
        return "unreadable"
    cert = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=cert_pem.encode(),
                          capture_output=True, check=False, env=env)
    if cert.returncode != 0:
        return "unknown"
    return "matches" if key.stdout.strip() == cert.stdout.strip() else "mismatch"
