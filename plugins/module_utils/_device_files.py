# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The key, certificate, chain and full chain on a device: report what is there, and bring it in line.

Runs on the device with the standard library only. Files are compared by content and attributes
and written atomically, with their final owner and mode before they appear.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import stat

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import (
    deferred_writes, ensure_directory, read_file, refuse_links, write_file_atomic,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_match import key_state

ROLES = ("key", "cert", "chain", "fullchain")


@dataclasses.dataclass(frozen=True)
class FileSpec:
    path: str
    mode: int
    uid: int = None
    gid: int = None


def resolve_owner(owner, group):
    """Numeric ids for user and group names (or numbers); None means 'leave as created'."""
    uid = gid = None
    if owner not in (None, ""):
        try:
            uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise FleetPkiError(f"owner '{owner}' does not exist on this host") from None
    if group not in (None, ""):
        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise FleetPkiError(f"group '{group}' does not exist on this host") from None
    return uid, gid


def parse_mode(value, name):
    try:
        mode = int(str(value), 8) if isinstance(value, str) else int(value)
    except ValueError:
        raise FleetPkiError(f"{name} '{value}' is not an octal file mode like '0600'") from None
    if not 0 <= mode <= 0o7777:
        raise FleetPkiError(f"{name} '{value}' is not a file mode")
    return mode


def read_text(path):
    try:
        data = read_file(path)
    except FleetPkiError:
        return None
    return data.decode(errors="replace") if data is not None else None


def refuse_linked_files(specs, extra_paths=()):
    """Refuse, before anything is read or written, a file (or its directory) that is a symbolic link.

    Reading through a planted link would report the target's content; chmod and chown would change the target.
    """
    directories = set()  # the files usually share one directory: check it once
    for role in ROLES:
        refuse_links(specs[role].path, f"{role} file", f"set {role}_path to the real file", directories)
    for path in extra_paths:
        refuse_links(path, "file", "set key_path to the real file", directories)


def converge(specs, contents, check_mode=False):
    """Make each file in `specs` (role -> FileSpec) hold `contents[role]` (when given) with its attributes.

    The full chain is derived: certificate + chain. Returns two lists of roles: whose content changed, and
    whose owner or mode was fixed (or would be, in check mode). A symbolic link in place of a file or its
    directory is refused before anything is written.
    """
    refuse_linked_files(specs)
    cert_pem = contents.get("cert") or read_text(specs["cert"].path)
    wanted = dict(contents)
    if "chain" in wanted and cert_pem:
        wanted["fullchain"] = _join(cert_pem, wanted["chain"])
    content_changed, attributes_fixed = [], []
    # One batch: every new file is complete beside its old one before the first rename, so a full disk
    # replaces none of them and a kill leaves a new key beside an old certificate only between two renames.
    with deferred_writes(few=True):
        for role in ROLES:
            spec = specs[role]
            data = wanted.get(role)
            if data is not None and read_file(spec.path) != data.encode():
                content_changed.append(role)
                if not check_mode:
                    ensure_directory(os.path.dirname(spec.path), 0o755)
                    write_file_atomic(spec.path, data, mode=spec.mode, owner=spec.uid, group=spec.gid)
            elif _fix_attributes(spec, check_mode):
                attributes_fixed.append(role)
    return content_changed, attributes_fixed


def report(specs, run_command=None):
    """What the device holds now: its certificate (public) and whether the key belongs to it."""
    refuse_linked_files(specs)
    cert_pem = read_text(specs["cert"].path)
    return {
        "certificate": cert_pem,
        "key_state": key_state(specs["key"].path, cert_pem, run_command),
    }


def _join(cert_pem, chain_pem):
    return cert_pem.rstrip("\n") + "\n" + chain_pem.lstrip("\n")


def _fix_attributes(spec, check_mode):
    try:
        info = os.stat(spec.path)
    except FileNotFoundError:
        return False
    wrong_mode = stat.S_IMODE(info.st_mode) != spec.mode
    wrong_owner = (spec.uid is not None and info.st_uid != spec.uid) or (spec.gid is not None and info.st_gid != spec.gid)
    if (wrong_mode or wrong_owner) and not check_mode:
        if wrong_owner:
            os.chown(spec.path, -1 if spec.uid is None else spec.uid, -1 if spec.gid is None else spec.gid)
        os.chmod(spec.path, spec.mode)
    return wrong_mode or wrong_owner
