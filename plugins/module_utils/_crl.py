# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The CRL of the fleet CA: <pki_dir>/crl.pem (and crl.der), numbered through <pki_dir>/crlnumber.

`crlnumber` holds the number the next CRL gets, in hex, as `openssl ca -gencrl` keeps it, so both can
take turns. A CRL is signed again only for a reason: it is missing or unreadable, another CA signed it,
its entries differ from the index, its validity period differs from the one asked for, or half of that
period has passed. Repeated runs therefore write nothing, and a schedule keeps it fresh well before
its nextUpdate. Callers hold the PKI lock.
"""

from __future__ import annotations

import dataclasses
import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import read_file, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._crypto import InvalidSignature, require_cryptography, serialization, x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_types import signature_hash_for
from ansible_collections.fleet.pki.plugins.module_utils._serials import serial_hex

CRL_FILE = "crl.pem"
CRL_DER_FILE = "crl.der"
CRLNUMBER_FILE = "crlnumber"
DEFAULT_VALIDITY_DAYS = 30
MAX_VALIDITY_DAYS = 365
# thisUpdate is set this far back, as certificates are backdated: a verifier whose clock runs a little
# behind would otherwise refuse a fresh CRL as "not yet valid" and, with CRL checking on, every peer.
BACKDATE = datetime.timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class CrlEntry:
    """One revoked certificate: serial (int), revocation time (UTC, whole seconds), x509.ReasonFlags or None."""

    serial: int
    revoked_at: datetime.datetime
    reason: object = None


@dataclasses.dataclass(frozen=True)
class CrlOutcome:
    reasons: tuple          # why the CRL was (or would be) signed again; empty when it was kept
    files: tuple            # files written (or that would be written)
    number: object          # CRL number of the current CRL (None in check mode before the first one)
    this_update: object
    next_update: object
    entries: int

    @property
    def changed(self):
        return bool(self.files)


def crl_paths(pki_dir):
    return os.path.join(pki_dir, CRL_FILE), os.path.join(pki_dir, CRL_DER_FILE), os.path.join(pki_dir, CRLNUMBER_FILE)


def validate_validity_days(days):
    try:
        value = int(days)
    except (TypeError, ValueError):
        raise FleetPkiError(f"crl_validity_days '{days}' is not a whole number of days") from None
    if not 1 <= value <= MAX_VALIDITY_DAYS:
        raise FleetPkiError(f"crl_validity_days {value} is outside 1 to {MAX_VALIDITY_DAYS}")
    return value


def load_crl(data, what):
    require_cryptography()
    try:
        return x509.load_pem_x509_crl(data)
    except ValueError:
        raise FleetPkiError(f"{what} is not a readable PEM CRL") from None


def entries_of(crl):
    """The CrlEntry set of a parsed CRL."""
    entries = set()
    for revoked in crl:
        try:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = None
        entries.add(CrlEntry(revoked.serial_number, revoked.revocation_date_utc, reason))
    return entries


def crl_number_of(crl):
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def reasons_to_sign(current, ca_certificate, entries, validity_days, now):
    """Why the current CRL (parsed, or None when missing) must be signed again; an empty list means keep it."""
    if current is None:
        return ["missing"]
    if current.issuer != ca_certificate.subject or not _signed_by(current, ca_certificate):
        return ["not signed by the current CA"]
    reasons = []
    held = entries_of(current)
    wanted = set(entries)
    if held != wanted:
        added = sorted(serial_hex(entry.serial) for entry in wanted - held)
        removed = sorted(serial_hex(entry.serial) for entry in held - wanted)
        reasons.append("entries differ: " + " ".join([f"+{serial}" for serial in added] + [f"-{serial}" for serial in removed]))
    if crl_number_of(current) is None:
        reasons.append("no CRL number")
    this_update, next_update = current.last_update_utc, current.next_update_utc
    if next_update is None:
        reasons.append("no nextUpdate")
        return reasons
    span = next_update - this_update
    if span != datetime.timedelta(days=validity_days) + BACKDATE:
        reasons.append(f"validity differs: {_days(span - BACKDATE)} -> {validity_days} days")
    if now >= this_update + span / 2:
        reasons.append(f"more than half of its validity has passed (nextUpdate {_iso(next_update)})")
    return reasons


def publish(pki_dir, ca_certificate, ca_key, entries, validity_days=DEFAULT_VALIDITY_DAYS, now=None, check_mode=False):
    """Keep or sign again the CRL for `entries` (CrlEntry). The caller holds the PKI lock. Returns a CrlOutcome."""
    require_cryptography()
    validity_days = validate_validity_days(validity_days)
    now = _whole_seconds(now or datetime.datetime.now(datetime.timezone.utc))
    pem_path, der_path, _number_path = crl_paths(pki_dir)
    current_pem = read_file(pem_path)
    current, unreadable = None, None
    if current_pem is not None:
        try:
            current = load_crl(current_pem, pem_path)
        except FleetPkiError:
            unreadable = ["unreadable"]
    reasons = unreadable or reasons_to_sign(current, ca_certificate, entries, validity_days, now)

    if not reasons:
        der = current.public_bytes(serialization.Encoding.DER)
        files = () if read_file(der_path) == der else (der_path,)
        if files and not check_mode:
            write_file_atomic(der_path, der, mode=0o644)
        return CrlOutcome((), files, crl_number_of(current), current.last_update_utc, current.next_update_utc,
                          len(entries))

    number = next_crl_number(pki_dir, current if current is not None and _signed_by(current, ca_certificate) else None)
    this_update, next_update = now - BACKDATE, now + datetime.timedelta(days=validity_days)
    files = (_number_path, pem_path, der_path)
    if check_mode:
        return CrlOutcome(tuple(reasons), files, number, this_update, next_update, len(entries))
    crl = build_crl(ca_certificate, ca_key, entries, number, this_update, next_update)
    # The number is spent before the CRL is written: a failure in between leaves a gap, never a reused number.
    write_file_atomic(_number_path, serial_hex(number + 1) + "\n", mode=0o644)
    write_file_atomic(pem_path, crl.public_bytes(serialization.Encoding.PEM), mode=0o644)
    write_file_atomic(der_path, crl.public_bytes(serialization.Encoding.DER), mode=0o644)
    return CrlOutcome(tuple(reasons), files, number, this_update, next_update, len(entries))


def next_crl_number(pki_dir, current=None):
    """The number the next CRL gets: what `crlnumber` says (1 without it), and always above the current CRL's."""
    path = crl_paths(pki_dir)[2]
    data = read_file(path)
    number = 1
    if data is not None and data.strip():
        text = data.decode(errors="replace").strip()
        try:
            number = int(text, 16)
        except ValueError:
            raise FleetPkiError(f"{path} holds '{text[:40]}', not a hex CRL number") from None
    held = crl_number_of(current) if current is not None else None
    if held is not None and held >= number:
        number = held + 1
    return number


def build_crl(ca_certificate, ca_key, entries, number, this_update, next_update):
    """Sign a CRL v2: CRL number, AKI, and one entry per revoked serial (sorted, as openssl ca sorts them)."""
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_certificate.subject)
               .last_update(this_update).next_update(next_update)
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(_authority_key_identifier(ca_certificate), critical=False))
    for entry in sorted(entries, key=lambda item: item.serial):
        revoked = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
        if entry.reason is not None:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(ca_key, signature_hash_for(ca_key))


def _authority_key_identifier(ca_certificate):
    try:
        ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_certificate.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _signed_by(crl, ca_certificate):
    try:
        return crl.is_signature_valid(ca_certificate.public_key())
    except (TypeError, ValueError, InvalidSignature):
        return False


def _whole_seconds(moment):
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(span):
    days = span / datetime.timedelta(days=1)
    return f"{days:g}"
