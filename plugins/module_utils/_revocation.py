# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Revoke certificates in index.txt and publish the CRL that says so, in one step under the PKI lock.

A revoked line looks exactly as `openssl ca -revoke` leaves it: status `R` and the revocation field
"YYMMDDHHMMSSZ,reason" (reason spelled as `-crl_reason` takes it). The reason `unspecified` is written
as `openssl ca -revoke` without `-crl_reason` writes it, the time alone, so that both our CRL and
`openssl ca -gencrl` leave the reasonCode extension out, as RFC 5280 (5.3.1) recommends.

The index is the source of truth and is written first; the CRL is derived from it. If writing the CRL
fails, the next run finds the CRL out of date and publishes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import re

from ansible_collections.fleet.pki.plugins.module_utils import _ca_index, _crl
from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import read_file
from ansible_collections.fleet.pki.plugins.module_utils._authority import load_authority
from ansible_collections.fleet.pki.plugins.module_utils._crypto import NameOID, require_cryptography, x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import leaf_common_name
from ansible_collections.fleet.pki.plugins.module_utils._pki_lock import pki_lock
from ansible_collections.fleet.pki.plugins.module_utils._serials import serial_hex

# The reasons a revocation may give: RFC 5280 names, and the spelling openssl ca writes into the index.
# certificateHold is left out (a hold is undone later; this collection never un-revokes), and so are
# privilegeWithdrawn and aACompromise, because `openssl ca` cannot read them back from the index.
REASONS = {
    "unspecified": None,
    "keyCompromise": "keyCompromise",
    "cACompromise": "CACompromise",
    "affiliationChanged": "affiliationChanged",
    "superseded": "superseded",
    "cessationOfOperation": "cessationOfOperation",
}
DEFAULT_REASON = "unspecified"

# What the index may hold (also from openssl ca used by hand), as RFC 5280 reason codes.
_INDEX_REASONS = {
    "unspecified": "unspecified",
    "keycompromise": "key_compromise",
    "cacompromise": "ca_compromise",
    "affiliationchanged": "affiliation_changed",
    "superseded": "superseded",
    "cessationofoperation": "cessation_of_operation",
    "certificatehold": "certificate_hold",
    "holdinstruction": "certificate_hold",  # openssl ca -crl_hold
    "keytime": "key_compromise",  # openssl ca -crl_compromise
    "cakeytime": "ca_compromise",  # openssl ca -crl_CA_compromise
}


@dataclasses.dataclass(frozen=True)
class Revoked:
    serial: str
    subject: str
    host: str
    reason: str
    revoked_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class RevocationOutcome:
    revoked: tuple            # Revoked, newly revoked by this run (or that would be, in check mode)
    already_revoked: tuple    # Revoked, asked for but revoked before
    index_diff: tuple         # (before, after) index lines
    crl: object               # _crl.CrlOutcome
    paths: dict

    @property
    def changed(self):
        return bool(self.index_diff) or self.crl.changed


def normalise_reason(reason):
    """Our RFC 5280 name of a revocation reason, from any capitalisation (and openssl's CACompromise)."""
    text = str(reason if reason is not None else DEFAULT_REASON).strip()
    for name in REASONS:
        if text.lower() == name.lower():
            return name
    raise FleetPkiError(f"revocation reason '{text}' is not one of {', '.join(REASONS)}")


def normalise_serial(serial):
    """Upper-case hex as the index holds it, from hex with or without colons or 0x (as `openssl x509 -serial` prints)."""
    text = str(serial).strip()
    digits = re.sub(r"^(0x|serial=)", "", text, flags=re.IGNORECASE).replace(":", "")
    if not re.fullmatch(r"[0-9A-Fa-f]+", digits):
        raise FleetPkiError(f"serial '{text}' is not a hexadecimal certificate serial")
    return serial_hex(int(digits, 16))


def host_subject(host):
    """The index subject of the certificates fleet.pki.certificate issues for inventory host `host`."""
    require_cryptography()
    return _ca_index.openssl_subject(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, leaf_common_name(host))]))


def revocation_field(moment, reason):
    """The index's revocation field, exactly as `openssl ca -revoke [-crl_reason R]` writes it."""
    spelling = REASONS[normalise_reason(reason)]
    stamp = _ca_index.format_time(moment)
    return stamp if spelling is None else f"{stamp},{spelling}"


def parse_revocation_field(text, serial="?"):
    """(revocation time, x509.ReasonFlags or None) of an index revocation field."""
    require_cryptography()
    parts = text.split(",")
    try:
        moment = _ca_index.parse_time(parts[0])
    except ValueError:
        raise FleetPkiError(f"serial {serial}: revocation time '{parts[0]}' in index.txt is not an openssl time") from None
    if len(parts) == 1:
        return moment, None
    code = _INDEX_REASONS.get(parts[1].lower())
    if code is None:
        raise FleetPkiError(f"serial {serial}: revocation reason '{parts[1]}' in index.txt is not one this collection can publish")
    return moment, (None if code == "unspecified" else getattr(x509.ReasonFlags, code))


def crl_entries(entries):
    """The CRL entries of every revoked line of the index."""
    result = []
    for entry in entries:
        if entry.status == "R":
            moment, reason = parse_revocation_field(entry.revoked, entry.serial)
            result.append(_crl.CrlEntry(int(entry.serial, 16), moment, reason))
    return result


def select(entries, serials=(), hosts=(), index_path=_ca_index.INDEX_FILE):
    """The index entries to revoke for the serials and hosts asked for: (to revoke, already revoked), in index order.

    A serial must be in the index. A host must have at least one certificate there; its valid ones are chosen.
    Hosts are matched by the subject the index keeps, so a host removed from the inventory can still be revoked.
    """
    by_serial = {entry.serial: entry for entry in entries}
    wanted = {}  # serial -> the host asked for (or "" when asked by serial)
    for serial in serials:
        normal = normalise_serial(serial)
        if normal not in by_serial:
            raise FleetPkiError(f"serial {normal} is not in {index_path}: no certificate of this CA has it")
        wanted.setdefault(normal, "")
    for host in hosts:
        subject = host_subject(host)
        matches = [entry for entry in entries if entry.subject == subject]
        if not matches:
            raise FleetPkiError(f"host {host}: no certificate with subject {subject} in {index_path}")
        for entry in matches:
            if entry.status != "E":
                wanted[entry.serial] = str(host)
    chosen = [entry for entry in entries if entry.serial in wanted]
    return ([(entry, wanted[entry.serial]) for entry in chosen if entry.status == "V"],
            [(entry, wanted[entry.serial]) for entry in chosen if entry.status == "R"])


def revoke_and_publish(pki_dir, serials=(), hosts=(), reason=DEFAULT_REASON, passphrase=None,
                       crl_validity_days=_crl.DEFAULT_VALIDITY_DAYS, now=None, check_mode=False):
    """Revoke the certificates of `serials` and `hosts` (none: only keep the CRL current), then publish the CRL.

    Everything that can be refused is checked before anything is written: the reason, the serials, the hosts,
    the validity and the CA passphrase. In check mode nothing is written (not even the lock file).
    """
    require_cryptography()
    reason = normalise_reason(reason)
    crl_validity_days = _crl.validate_validity_days(crl_validity_days)
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc).replace(microsecond=0)
    authority = load_authority(pki_dir)
    ca_key = authority.private_key(passphrase)  # a wrong passphrase fails here, before anything is written
    index_path = os.path.join(pki_dir, _ca_index.INDEX_FILE)
    with contextlib.nullcontext() if check_mode else pki_lock(pki_dir):
        data = read_file(index_path)
        if data is None:
            raise FleetPkiError(f"{index_path} is missing; run fleet.pki.authority first")
        entries = _ca_index.parse_index(data, index_path)
        targets, already = select(entries, serials, hosts, index_path)
        field = revocation_field(now, reason)
        new_data, index_diff = _ca_index.mark_revoked(data, {entry.serial: field for entry, _host in targets})
        new_entries = _ca_index.parse_index(new_data, index_path)
        if index_diff and not check_mode:
            _ca_index.write_index(pki_dir, new_data)
        crl = _crl.publish(pki_dir, authority.certificate, ca_key, crl_entries(new_entries), crl_validity_days, now,
                           check_mode)
    revoked = tuple(_revoked(entry, host, field) for entry, host in targets)
    previous = tuple(_revoked(entry, host, entry.revoked) for entry, host in already)
    pem_path, der_path, _number_path = _crl.crl_paths(pki_dir)
    return RevocationOutcome(revoked, previous, tuple(index_diff), crl,
                             {"index": index_path, "crl": pem_path, "crl_der": der_path})


def _revoked(entry, host, field):
    moment, reason = parse_revocation_field(field, entry.serial)
    return Revoked(entry.serial, entry.subject, host or _host_of(entry.subject), _reason_name(reason), moment)


def _host_of(subject):
    """The inventory name a fleet.pki subject (/CN=<host>) stands for; "" for another subject."""
    match = re.fullmatch(r"/CN=([^/]*)", subject)
    return match.group(1).replace("\\", "") if match else ""


def _reason_name(flag):
    if flag is None:
        return "unspecified"
    camel = re.sub(r"_(\w)", lambda match: match.group(1).upper(), flag.name)
    return "cACompromise" if camel == "caCompromise" else camel
