# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The fleet CA in the PKI directory: create it once, load it, and never regenerate its key implicitly.

Layout: <pki_dir>/ca/ca.crt and ca.key (0600, encrypted when a passphrase is given), index.txt.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import os
import re
import stat

from ansible_collections.fleet.pki.plugins.module_utils import _ca_index
from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import (
    create_file_exclusive, ensure_directory, read_file, write_file_atomic,
)
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import (
    common_name, describe, load_certificate, to_pem,
)
from ansible_collections.fleet.pki.plugins.module_utils._crypto import NameOID, require_cryptography, serialization, x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_types import (
    generate_private_key, key_type_of, signature_hash_for, validate_key_type,
)
from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import build_extension, constraints_of, normalise_constraints
from ansible_collections.fleet.pki.plugins.module_utils._pki_lock import pki_lock
from ansible_collections.fleet.pki.plugins.module_utils._profiles import ca_extensions, validate_ca_validity
from ansible_collections.fleet.pki.plugins.module_utils._serials import random_serial
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import ca_label

CA_DIR = "ca"
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
BACKDATE = datetime.timedelta(hours=1)  # tolerate device clocks that run a little behind
# As ssh refuses an "UNPROTECTED PRIVATE KEY FILE": group and others must not read or write the CA key, nor write
# the directories that hold it (whoever can write there can swap the key or the certificate, or plant a link).
# Reading the directories is allowed: they hold public certificates, and the key file guards itself.
KEY_FORBIDDEN_BITS = 0o077
DIRECTORY_FORBIDDEN_BITS = 0o022
ROTATION_DOC = "docs/ca-rotation.md"


@dataclasses.dataclass(frozen=True)
class AuthoritySettings:
    common_name: str
    organization: str = ""
    key_type: str = "ec-p256"
    validity_days: int = 3650
    permitted_ip_networks: tuple = ()
    permitted_dns_domains: tuple = ()

    def validated(self):
        if not str(self.common_name or "").strip():
            raise FleetPkiError("common_name is required: iOS does not list a root without a CN")
        if len(self.common_name) > 64:
            raise FleetPkiError(f"common_name '{self.common_name[:40]}...' is longer than 64 characters")
        validate_key_type(self.key_type)
        validate_ca_validity(self.validity_days)
        normalise_constraints(self.permitted_ip_networks, self.permitted_dns_domains)
        return self


def ca_paths(pki_dir):
    return os.path.join(pki_dir, CA_DIR, CA_CERT), os.path.join(pki_dir, CA_DIR, CA_KEY)


class Authority:
    """A loaded CA. The key is decrypted only when something has to be signed."""

    def __init__(self, pki_dir, certificate):
        self.pki_dir = pki_dir
        self.certificate = certificate
        self.cert_path, self.key_path = ca_paths(pki_dir)
        self.pem = to_pem(certificate)
        self.constraints = constraints_of(certificate)

    def private_key(self, passphrase=None, now=None):
        """The CA key, to sign with: refused once the CA certificate has expired."""
        self.refuse_if_expired(now)
        return load_ca_key(self.key_path, passphrase, self.certificate)

    def refuse_if_expired(self, now=None):
        """Raise when the CA certificate has expired: every client rejects what an expired CA signs."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        expiry = self.certificate.not_valid_after_utc
        if expiry <= now:
            raise FleetPkiError(
                f"the CA certificate {self.cert_path} expired on {expiry:%Y-%m-%d %H:%M} UTC; refusing to sign with it, "
                "because every client rejects what an expired CA signs. Renew it with the same key (the authority "
                f"role does this in playbooks/provision.yml and playbooks/renew.yml) or roll over to a new CA: see {ROTATION_DOC}"
            )

    def facts(self):
        facts = describe(self.certificate)
        facts.update(cert_path=self.cert_path, key_path=self.key_path, label=self.label)
        return facts

    @property
    def label(self):
        return ca_label(common_name(self.certificate), self.certificate.public_bytes(serialization.Encoding.DER))


def load_authority(pki_dir):
    """The CA certificate of `pki_dir` (the key stays on disk), or a clear error."""
    require_cryptography()
    cert_path, _key_path = ca_paths(pki_dir)
    if not os.path.isdir(pki_dir):
        raise FleetPkiError(f"PKI directory {pki_dir} does not exist; run fleet.pki.authority first")
    if not os.access(pki_dir, os.R_OK | os.X_OK):
        raise FleetPkiError(f"PKI directory {pki_dir} is not readable")
    _check_protection(pki_dir)
    pem = read_file(cert_path)
    if pem is None:
        raise FleetPkiError(f"no CA certificate at {cert_path}; run fleet.pki.authority first")
    return Authority(pki_dir, load_certificate(pem, f"CA certificate {cert_path}"))


def ensure_authority(pki_dir, settings, passphrase=None, check_mode=False, now=None):
    """Create the CA if it is missing; otherwise check it. Returns (authority or None in check mode, changed, notes)."""
    require_cryptography()
    settings.validated()
    cert_path, key_path = ca_paths(pki_dir)
    _check_directory(pki_dir)
    _check_protection(pki_dir)
    cert_pem, key_pem = read_file(cert_path), read_file(key_path)
    now = now or datetime.datetime.now(datetime.timezone.utc)

    if cert_pem is not None:
        return _existing(pki_dir, cert_pem, key_pem, passphrase, settings)
    if check_mode:
        return None, True, []
    _refuse_half_done_rollover(pki_dir)
    for directory in (pki_dir, os.path.join(pki_dir, CA_DIR)):
        ensure_directory(directory, 0o700)
    # Two runs may start a new fleet at once: the second must find the first one's CA, never replace its key.
    with pki_lock(pki_dir):
        cert_pem, key_pem = read_file(cert_path), read_file(key_path)
        if cert_pem is not None:
            return _existing(pki_dir, cert_pem, key_pem, passphrase, settings)
        notes = []
        key = generate_private_key(settings.key_type) if key_pem is None else None
        if key is None or not create_file_exclusive(key_path, _key_bytes(key, passphrase)):
            key = load_ca_key(key_path, passphrase)
            notes.append(f"{cert_path} was missing: made a new CA certificate for the existing key")
        certificate = _self_sign(key, settings, now)
        write_file_atomic(cert_path, to_pem(certificate), mode=0o644)
        _ca_index.initialise(pki_dir)
    return Authority(pki_dir, certificate), True, notes


def _existing(pki_dir, cert_pem, key_pem, passphrase, settings):
    cert_path, key_path = ca_paths(pki_dir)
    if key_pem is None:
        raise FleetPkiError(
            f"{cert_path} exists but its key {key_path} is missing; refusing to create a new CA key "
            "(restore the key, or move the CA directory away to start a new CA on purpose)"
        )
    certificate = load_certificate(cert_pem, f"CA certificate {cert_path}")
    load_ca_key(key_path, passphrase, certificate)
    return Authority(pki_dir, certificate), False, _drift(certificate, settings)


def _refuse_half_done_rollover(pki_dir):
    """No new CA while a rollover that was cut short between its renames holds the fleet's real CA elsewhere."""
    for step in ("next", "previous"):  # _ca_rollover's directories (it imports this module, not the reverse)
        if os.path.exists(os.path.join(pki_dir, step, CA_DIR, CA_CERT)):
            raise FleetPkiError(
                f"a CA rollover is half done ({os.path.join(pki_dir, step, CA_DIR)} exists, {os.path.join(pki_dir, CA_DIR)} "
                "does not): run playbooks/rotate_ca.yml with -e fleet_pki_rollover_step=switch to finish it; "
                "refusing to create a new CA key"
            )


def _check_directory(pki_dir):
    if os.path.exists(pki_dir) and not os.path.isdir(pki_dir):
        raise FleetPkiError(f"PKI directory {pki_dir} is not a directory")
    if os.path.isdir(pki_dir) and not os.access(pki_dir, os.R_OK | os.W_OK | os.X_OK):
        raise FleetPkiError(f"PKI directory {pki_dir} is not readable and writable by this user")


def _check_protection(pki_dir):
    """Refuse a PKI directory that group or others could tamper with, before anything is read from it or written."""
    ca_dir = os.path.join(pki_dir, CA_DIR)
    for path, what in ((pki_dir, "PKI directory"), (ca_dir, "CA directory")):
        mode = _mode(path)
        if mode is not None and mode & DIRECTORY_FORBIDDEN_BITS:
            raise FleetPkiError(
                f"{what} {path} is writable by group or others (mode {mode:04o}): whoever can write there can replace "
                f"the CA key or certificate. Refusing to use it; fix it with: chmod go-w {path} (fleet.pki makes it 0700)"
            )
    _check_key_mode(os.path.join(ca_dir, CA_KEY))


def _check_key_mode(key_path):
    mode = _mode(key_path)
    if mode is not None and mode & KEY_FORBIDDEN_BITS:
        raise FleetPkiError(
            f"CA key {key_path} is open to group or others (mode {mode:04o}); like ssh with an unprotected private key "
            f"file, fleet.pki refuses to use it. Fix it with: chmod 600 {key_path}; if others may have read it, roll "
            f"over to a new CA key ({ROTATION_DOC})"
        )


def _mode(path):
    """Permission bits of `path` (of its target, for a link), or None when it does not exist or cannot be seen."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None  # missing or unreadable: the callers' own checks say which


def _key_bytes(key, passphrase):
    encryption = (serialization.BestAvailableEncryption(passphrase.encode())
                  if passphrase else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_ca_key(key_path, passphrase, certificate=None):
    _check_key_mode(key_path)
    data = read_file(key_path)
    if data is None:
        raise FleetPkiError(f"CA key {key_path} is missing")
    if _truncated(data):
        raise FleetPkiError(f"CA key {key_path} is not a readable private key: it is truncated (its PEM block is "
                            "incomplete); restore it from a backup")
    password = passphrase.encode() if passphrase else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        # cryptography says TypeError for "encrypted but no password" and "password given but not encrypted".
        if password is None:
            raise FleetPkiError(f"CA key {key_path} is encrypted: set the CA passphrase (fleet_pki_ca_passphrase)") from None
        raise FleetPkiError(f"CA key {key_path} is not encrypted, but a passphrase was given") from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in data:
            raise FleetPkiError(f"the CA passphrase is wrong for {key_path}") from None
        raise FleetPkiError(f"CA key {key_path} is not a readable private key") from None
    except Exception:  # noqa: BLE001 - e.g. UnsupportedAlgorithm; its text is not ours to show
        raise FleetPkiError(f"CA key {key_path} is not a readable private key (an unsupported key type)") from None
    if certificate is not None and key.public_key() != certificate.public_key():
        raise FleetPkiError(f"CA key {key_path} does not match the CA certificate {os.path.join(os.path.dirname(key_path), CA_CERT)}")
    return key


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)(?:-----END \1-----|\Z)", re.S)


def _truncated(data):
    """True when a PEM block ends early: no END line, or DER shorter than its own length says.

    Without this, a cut-off encrypted key would fail to decrypt and be reported as a wrong passphrase.
    """
    for match in _PEM_BLOCK.finditer(data):
        if not match.group(0).rstrip().endswith(b"-----"):
            return True
        body = match.group(2)
        if b":" in body:
            continue  # an old-style encrypted key (Proc-Type, DEK-Info): its body is ciphertext, not DER
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            return True
        if _der_length(der) != len(der):
            return True
    return False  # no PEM at all is not "truncated": "not a readable private key" says it better


def _der_length(der):
    """The total length the outer DER element declares (header included), or None if the header is cut."""
    if len(der) < 2:
        return None
    first = der[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or len(der) < 2 + count:
        return None
    return 2 + count + int.from_bytes(der[2:2 + count], "big")


def _self_sign(key, settings, now):
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, settings.common_name)]
    if settings.organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings.organization))
    name = x509.Name(attributes)
    networks, domains = normalise_constraints(settings.permitted_ip_networks, settings.permitted_dns_domains)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(random_serial()).not_valid_before(now - BACKDATE)
               .not_valid_after(now + datetime.timedelta(days=int(settings.validity_days))))
    for extension, critical in ca_extensions(key.public_key(), build_extension(networks, domains)):
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, signature_hash_for(key))


def _drift(certificate, settings):
    """Differences between the existing CA and the options: reported, never acted on."""
    notes = []
    if common_name(certificate) != settings.common_name:
        notes.append(f"the existing CA has common_name '{common_name(certificate)}', not '{settings.common_name}'")
    actual_key_type = key_type_of(certificate.public_key())
    if actual_key_type != settings.key_type:
        notes.append(f"the existing CA key is {actual_key_type}, not {settings.key_type}")
    wanted = normalise_constraints(settings.permitted_ip_networks, settings.permitted_dns_domains)
    actual = constraints_of(certificate) or ([], [])
    if (sorted(map(str, wanted[0])), sorted(wanted[1])) != (sorted(map(str, actual[0])), sorted(actual[1])):
        notes.append("the existing CA has other name constraints than requested")
    if notes:
        notes.append("the CA is kept as it is: a CA key is never regenerated implicitly")
    return notes
