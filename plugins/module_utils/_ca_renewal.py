# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Renewing the CA certificate with the same key, before it expires.

The new certificate keeps the subject, the key and every extension (SKI, name constraints, path
length) and gets a new serial and a new validity. A leaf names its CA by subject and key
identifier and was signed by the key, so every leaf verifies under the old and the new CA
certificate alike: nothing has to be re-issued, and a client that still trusts the old certificate
keeps working until that one expires. The old certificate is kept in ``ca/superseded/`` so that it
can later be removed from trust stores by its own label.
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._authority import BACKDATE, CA_DIR, Authority, ca_paths, load_ca_key
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._crypto import x509
from ansible_collections.fleet.pki.plugins.module_utils._key_types import signature_hash_for
from ansible_collections.fleet.pki.plugins.module_utils._pki_lock import pki_lock
from ansible_collections.fleet.pki.plugins.module_utils._profiles import validate_ca_validity
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import parse_renew_before
from ansible_collections.fleet.pki.plugins.module_utils._serials import random_serial

SUPERSEDED_DIR = "superseded"
DEFAULT_CA_RENEW_BEFORE = "20%"  # two years of a ten-year CA: time to roll the new certificate out to clients


def ca_renewal_reason(certificate, renew_before, now):
    """Why the CA certificate should be renewed now, or None. renew_before: days or a percentage."""
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    threshold = parse_renew_before(renew_before, max(lifetime.days, 1))
    remaining = certificate.not_valid_after_utc - now
    if remaining <= datetime.timedelta(0):
        return f"the CA certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    if remaining < threshold.threshold(lifetime):
        return (f"the CA certificate has {remaining.days} days left "
                f"(until {certificate.not_valid_after_utc:%Y-%m-%d}), renew_before is {threshold}")
    return None


def superseded_path(authority):
    """Where a replaced CA certificate is kept: ca/superseded/<its trust label>.crt."""
    return os.path.join(authority.pki_dir, CA_DIR, SUPERSEDED_DIR, authority.label + ".crt")


def renew_ca_certificate(authority, passphrase, validity_days, now):
    """Sign a new CA certificate with the same key and everything else kept; return the new Authority.

    The caller decided that renewal is due. The old certificate goes to ca/superseded/ first, then the
    new one replaces ca/ca.crt atomically, under the PKI lock.
    """
    validity_days = validate_ca_validity(validity_days)
    cert_path, key_path = ca_paths(authority.pki_dir)
    old = authority.certificate
    with pki_lock(authority.pki_dir):
        key = load_ca_key(key_path, passphrase, old)
        builder = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(old.subject)
                   .public_key(key.public_key()).serial_number(random_serial())
                   .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=validity_days)))
        for extension in old.extensions:  # the same SKI, constraints and usages: leaves cannot tell the difference
            builder = builder.add_extension(extension.value, critical=extension.critical)
        new = builder.sign(key, signature_hash_for(key))
        archive = superseded_path(authority)
        ensure_directory(os.path.dirname(archive), 0o700)  # like every directory of the PKI directory
        write_file_atomic(archive, to_pem(old), mode=0o644)
        write_file_atomic(cert_path, to_pem(new), mode=0o644)
    return Authority(authority.pki_dir, new)
