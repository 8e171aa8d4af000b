# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""A private key made on the device, and a CSR for it: with key_location 'device' the key never leaves the device.

Runs on the device with the standard library only. The key is made with Python `cryptography` where the
device has it, else with the device's `openssl` command. Either way it is written through the atomic writer
(a temp file that has its final mode and owner before the first byte, then a rename), never world-readable.

A new key is made for every certificate, at `<key_path>.pending`: the key and certificate the device serves
stay as they are until the certificate for the new key arrives, and only then does the pending key take
the place of the old one (after a check that the certificate belongs to it).
"""

from __future__ import annotations

import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._crypto import HAS_CRYPTOGRAPHY, NameOID, hashes, serialization, x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_match import key_state
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key, validate_key_type

PENDING_SUFFIX = ".pending"
BACKENDS = ("cryptography", "openssl")

_GENPKEY_OPTIONS = {
    "ec-p256": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-pkeyopt", "ec_param_enc:named_curve"),
    "ec-p384": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-pkeyopt", "ec_param_enc:named_curve"),
    "rsa-2048": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),
    "rsa-3072": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"),
    "rsa-4096": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"),
}
# `openssl req` needs a configuration; a minimal one on stdin keeps the system's defaults (extensions, prompts) out.
_REQ_CONFIG = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"


def pending_path(key_path):
    return key_path + PENDING_SUFFIX


def backend(use_cryptography=None):
    """'cryptography' or 'openssl': what makes keys and CSRs here. `use_cryptography` overrides the detection."""
    if use_cryptography is None:
        use_cryptography = HAS_CRYPTOGRAPHY
    return "cryptography" if use_cryptography else "openssl"


def new_pending_key(key_path, key_type, mode=0o600, uid=None, gid=None, run_command=None, use_cryptography=None):
    """Make a new `key_type` key at `<key_path>.pending` (mode and owner from the start). Returns its path.

    `run_command(args, data=None) -> (rc, out, err)` (like AnsibleModule.run_command) serves the openssl fallback.
    """
    validate_key_type(key_type)
    if backend(use_cryptography) == "cryptography":
        key = generate_private_key(key_type)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    else:
        pem = _openssl(run_command, ["genpkey", *_GENPKEY_OPTIONS[key_type]], what=f"make a {key_type} key").encode()
        if b"PRIVATE KEY-----" not in pem:
            raise FleetPkiError(f"openssl genpkey did not return a PEM private key for key type {key_type}")
    path = pending_path(key_path)
    ensure_directory(os.path.dirname(os.path.abspath(path)), 0o755)
    write_file_atomic(path, pem, mode=mode, owner=uid, group=gid)
    return path


def csr_for(key_path, common_name, run_command=None, use_cryptography=None):
    """A CSR (PEM) for the key at `key_path`, with subject CN=`common_name` and no extensions. Never the key."""
    if backend(use_cryptography) == "cryptography":
        try:
            with open(key_path, "rb") as handle:
                key = serialization.load_pem_private_key(handle.read(), password=None)
        except (OSError, ValueError, TypeError):
            raise FleetPkiError(f"cannot read the private key {key_path} to make a CSR") from None
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]) if common_name else x509.Name([])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.PEM).decode()
    subject = "/CN=" + _escape_subject(common_name) if common_name else "/"
    pem = _openssl(run_command, ["req", "-new", "-key", key_path, "-subj", subject, "-sha256", "-config", "/dev/stdin"],
                   data=_REQ_CONFIG, what=f"make a CSR for {key_path}")
    if "-----BEGIN CERTIFICATE REQUEST-----" not in pem or "PRIVATE KEY" in pem:
        raise FleetPkiError(f"openssl req did not return a PEM certificate request for {key_path}")
    return pem[pem.index("-----BEGIN CERTIFICATE REQUEST-----"):]


def activate_pending_key(key_path, cert_pem, run_command=None):
    """Before the certificate for a device-made key is installed: put the pending key in place of the old one.

    Returns True when the pending key became the key, False when the key at `key_path` already belongs to the
    certificate (a repeated install). Refuses, and changes nothing, when the certificate belongs to neither.
    """
    pending = pending_path(key_path)
    if os.path.exists(pending):
        state = key_state(pending, cert_pem, run_command)
        if state == "matches":
            try:
                os.replace(pending, key_path)
            except OSError as exc:
                raise FleetPkiError(f"cannot move {pending} to {key_path}: {exc.strerror}") from None
            return True
        if state == "unknown":
            raise FleetPkiError(f"cannot check that the new certificate belongs to the pending key {pending}: "
                                "neither Python cryptography nor the openssl command is available")
    if key_state(key_path, cert_pem, run_command) == "matches":
        return False
    raise FleetPkiError(f"the certificate does not belong to the pending key {pending} (did another run make a "
                        "new key meanwhile?); nothing was installed")


def _openssl(run_command, args, data=None, what="run openssl"):
    if run_command is None:
        raise FleetPkiError(f"cannot {what}: neither Python cryptography nor the openssl command is available")
    try:
        rc, out, err = run_command(["openssl", *args], data=data)
    except OSError:
        raise FleetPkiError(f"cannot {what}: neither Python cryptography nor the openssl command is available") from None
    if rc != 0:
        detail = (err or "").strip().splitlines()
        raise FleetPkiError(f"cannot {what}: openssl {args[0]} failed (exit {rc}){': ' + detail[-1] if detail else ''}")
    return out


def _escape_subject(value):
    """`openssl req -subj` syntax: a backslash escapes '/', '=', '+' and itself."""
    return "".join("\\" + char if char in "\\/=+" else char for char in str(value))
