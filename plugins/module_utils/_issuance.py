# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Sign a leaf certificate under the CA's own policy, and record it in the index.

Everything that goes into the certificate comes from the inventory and the profile; nothing is
copied from a request. Signing and the index update happen under the PKI lock.
"""

from __future__ import annotations

import dataclasses
import datetime

from ansible_collections.fleet.pki.plugins.module_utils import _ca_index
from ansible_collections.fleet.pki.plugins.module_utils._crypto import NameOID, x509
from ansible_collections.fleet.pki.plugins.module_utils._key_types import signature_hash_for
from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import refuse_outside
from ansible_collections.fleet.pki.plugins.module_utils._pki_lock import pki_lock
from ansible_collections.fleet.pki.plugins.module_utils._profiles import leaf_extensions
from ansible_collections.fleet.pki.plugins.module_utils._serials import serial_hex, unique_serial

BACKDATE = datetime.timedelta(hours=1)  # tolerate device clocks that run a little behind
MAX_CN_LENGTH = 64


@dataclasses.dataclass(frozen=True)
class LeafRequest:
    common_name: str
    sans: tuple
    profile: str
    validity_days: int


def leaf_common_name(inventory_hostname):
    """Clients ignore the CN (they match SANs); it names the host for people, within the X.509 limit."""
    return str(inventory_hostname)[:MAX_CN_LENGTH]


def leaf_subject(common_name):
    """The subject of a leaf: its CN only, or empty (then the SANs are critical)."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]) if common_name else x509.Name([])


def check_request(authority, request):
    """Everything that can be refused before signing. Raises FleetPkiError."""
    refuse_outside(request.sans, authority.constraints, request.common_name)


def issue(authority, ca_key, public_key, request, now=None):
    """Sign and record one leaf. Returns the x509.Certificate."""
    return issue_many(authority, ca_key, [(public_key, request)], now)[0]


def issue_many(authority, ca_key, items, now=None):
    """Sign and record leaves for [(public key, LeafRequest)], under one lock and with one index write.

    Every request is checked before anything is signed. Returns the certificates in the order of `items`.
    """
    for _public_key, request in items:
        check_request(authority, request)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certificates, entries_added = [], []
    with pki_lock(authority.pki_dir):
        taken = set(_ca_index.known_serials(_ca_index.read_index(authority.pki_dir)))
        for public_key, request in items:
            # A leaf must not outlive its CA: clients would reject the chain after the CA expires anyway.
            not_after = min(now + datetime.timedelta(days=int(request.validity_days)),
                            authority.certificate.not_valid_after_utc)
            subject = leaf_subject(request.common_name)
            serial = unique_serial(taken)
            taken.add(serial_hex(serial))
            builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(authority.certificate.subject)
                       .public_key(public_key).serial_number(serial)
                       .not_valid_before(now - BACKDATE).not_valid_after(not_after))
            for extension, critical in leaf_extensions(request.profile, public_key, request.sans, authority.certificate,
                                                       subject_is_empty=not request.common_name):
                builder = builder.add_extension(extension, critical=critical)
            certificate = builder.sign(ca_key, signature_hash_for(ca_key))
            certificates.append(certificate)
            entries_added.append(_ca_index.IndexEntry("V", certificate.not_valid_after_utc, "", serial_hex(serial),
                                                      _ca_index.openssl_subject(subject)))
        _ca_index.append_entries(authority.pki_dir, entries_added)
    return certificates
