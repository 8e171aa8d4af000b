# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""index.txt: every certificate issued, in the database format of `openssl ca`.

One line per certificate: status (V valid, R revoked, E expired), expiry, revocation time,
serial (upper-case hex), file name ("unknown") and subject, separated by tabs. Callers hold the
PKI lock while they change it.
"""

from __future__ import annotations

import dataclasses
import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import read_file, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

INDEX_FILE = "index.txt"
# openssl ca refuses a second valid certificate for the same subject unless told otherwise;
# re-issuing for a host while the old certificate is still valid is exactly what renewal does.
ATTR_CONTENT = "unique_subject = no\n"


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    status: str
    expires: datetime.datetime
    revoked: str
    serial: str
    subject: str

    def line(self):
        return "\t".join((self.status, _asn1_time(self.expires), self.revoked, self.serial, "unknown", self.subject))


def _asn1_time(moment):
    moment = moment.astimezone(datetime.timezone.utc)
    # UTCTime until 2049, GeneralizedTime after, as RFC 5280 and openssl do.
    return moment.strftime("%y%m%d%H%M%SZ") if moment.year < 2050 else moment.strftime("%Y%m%d%H%M%SZ")


def _parse_time(text):
    form = "%y%m%d%H%M%SZ" if len(text) == 13 else "%Y%m%d%H%M%SZ"
    return datetime.datetime.strptime(text, form).replace(tzinfo=datetime.timezone.utc)


def openssl_subject(name):
    """'/CN=dev1/O=Fleet' form of an x509.Name, as openssl writes it into the index."""
    return "".join(f"/{attribute.rfc4514_string()}" for attribute in name)


def read_index(pki_dir):
    return parse_index(read_file(os.path.join(pki_dir, INDEX_FILE)), os.path.join(pki_dir, INDEX_FILE))


def parse_index(data, path=INDEX_FILE):
    """The entries of index.txt bytes (None or b"" for none); `path` names the file in errors."""
    entries = []
    for number, line in enumerate((data or b"").decode().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 6 or fields[0] not in ("V", "R", "E"):
            raise FleetPkiError(f"{path} line {number} is not in openssl ca format")
        entries.append(IndexEntry(fields[0], _parse_time(fields[1]), fields[2], fields[3].upper(), fields[5]))
    return entries


def revoked_serials(entries):
    return frozenset(entry.serial for entry in entries if entry.status == "R")


def known_serials(entries):
    return frozenset(entry.serial for entry in entries)


def lists_valid(entries, subject, now):
    """Whether the index lists a certificate for `subject` ('/CN=...') that is neither revoked nor expired.

    Every certificate the CA signs is listed before it leaves the controller, so when none is, nothing a
    host holds for that subject can be kept.
    """
    return any(entry.status == "V" and entry.subject == subject and entry.expires > now for entry in entries)


def append_entries(pki_dir, new_entries):
    """Add entries by rewriting the index atomically (the caller holds the PKI lock)."""
    path = os.path.join(pki_dir, INDEX_FILE)
    current = read_file(path) or b""
    if current and not current.endswith(b"\n"):
        current += b"\n"
    added = "".join(entry.line() + "\n" for entry in new_entries).encode()
    write_file_atomic(path, current + added, mode=0o644, defer=False)  # now, under the caller's lock


def format_time(moment):
    """An index time field (UTCTime until 2049, GeneralizedTime after), as openssl writes expiry and revocation."""
    return _asn1_time(moment)


def parse_time(text):
    return _parse_time(text)


def mark_revoked(data, revocations):
    """Turn the `V` lines of the given serials into `R` lines; every other byte stays as it is.

    `data` is the index (bytes), `revocations` maps an upper-case serial to its revocation field
    ("YYMMDDHHMMSSZ" or "YYMMDDHHMMSSZ,reason"). Only the status and revocation fields of those lines change.
    Returns the new bytes and the changed lines as (before, after) text pairs, in index order.
    """
    lines = (data or b"").decode().split("\n")  # the last item is "" when the file ends with a newline
    changed = []
    for number, line in enumerate(lines):
        fields = line.split("\t")
        if len(fields) == 6 and fields[0] == "V" and fields[3].upper() in revocations:
            fields[0], fields[2] = "R", revocations[fields[3].upper()]
            lines[number] = "\t".join(fields)
            changed.append((line, lines[number]))
    return "\n".join(lines).encode(), changed


def write_index(pki_dir, data):
    """Replace the index atomically (the caller holds the PKI lock)."""
    write_file_atomic(os.path.join(pki_dir, INDEX_FILE), data, mode=0o644, defer=False)  # now, under the caller's lock


def initialise(pki_dir):
    """Create an empty index and its attribute file so openssl tools accept the directory."""
    if read_file(os.path.join(pki_dir, INDEX_FILE)) is None:
        write_file_atomic(os.path.join(pki_dir, INDEX_FILE), b"", mode=0o644)
    if read_file(os.path.join(pki_dir, INDEX_FILE + ".attr")) is None:
        write_file_atomic(os.path.join(pki_dir, INDEX_FILE + ".attr"), ATTR_CONTENT, mode=0o644)
