# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Atomic writes: a reader (or a crash) sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


def ensure_directory(path, mode=0o700):
    """Create a directory (and parents) with `mode` from the start; existing directories are kept as they are."""
    if os.path.isdir(path):
        return False
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        ensure_directory(parent, mode)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return False
    except OSError as exc:
        raise FleetPkiError(f"cannot create directory {path}: {exc.strerror}") from None
    os.chmod(path, mode)  # mkdir's mode is filtered by the umask
    return True


def refuse_links(path, what="file", fix="point the setting at the real file", checked_directories=None):
    """Raise when `path` or the directory that holds it is a symbolic link (a missing path is fine).

    A link where fleet.pki writes a key is a mistake or an attack: following it writes (or chmods) the target, and
    replacing it, as the rename of an atomic write would, hides it. So it is refused, and left as it is.
    `checked_directories`: a set of directories found not to be links, filled here, so that each is checked once.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.islink(path):
        link, where, remedy = path, f"the {what} {path}", fix
    elif (checked_directories is None or directory not in checked_directories) and os.path.islink(directory):
        link, where = directory, f"the directory {directory} that holds {path}"
        remedy = f"use the real directory {os.path.realpath(directory)}"
    else:
        if checked_directories is not None:
            checked_directories.add(directory)
        return
    raise FleetPkiError(f"{where} is a symbolic link (to {os.readlink(link)}); fleet.pki never writes through or "
                        f"over a link. Nothing was written: remove the link, or {remedy}")


# What follows ".<final name>." in a temp file's name: "<pid of its writer>.<random>.tmp" (no pid in temp files
# from before the pid was added).
_TEMP_SUFFIX = re.compile(r"^(?:(?P<pid>[0-9]+)\.)?[a-z0-9_]{8}\.tmp$")
# A temp file whose writer may still be running (or whose pid is unknown) is stale only after this long.
STALE_TEMP_SECONDS = 24 * 3600

# While deferred_writes() is open: final path -> (temp file, bytes) of the writes not yet renamed, and
# directory -> its possible temp files from before the batch (see remove_stale_temps).
_deferred = None
_temp_listings = {}


@contextlib.contextmanager
def deferred_writes(few=False):
    """Batch the atomic writes made inside: temp files now, one sync, then every rename, then one more sync.

    One sync for a batch's files instead of an fsync per file and per directory, with the same promise:
    after a crash each file is old or new, never half-written. Reads inside see the pending content.
    Every temp file exists before the first rename, so a full disk fails the batch with nothing replaced.
    `few`: a handful of files (one device's): fsync each file and its directory instead of syncing the system.
    """
    global _deferred  # pylint: disable=global-statement
    if _deferred is not None:  # nested: the outer batch commits
        yield
        return
    _deferred = {}
    _temp_listings.clear()
    try:
        yield
        if not _deferred:
            return  # nothing to commit: a no-op run costs no sync
        directories = {os.path.dirname(path) for path in _deferred}
        if few:
            for tmp, _data in _deferred.values():
                _fsync_path(tmp)
        else:
            os.sync()  # every temp file's content is durable before any rename makes it visible
        for path, (tmp, _data) in list(_deferred.items()):
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise _write_error(path, exc) from None
            del _deferred[path]
        if few:
            for directory in directories:
                fsync_directory(directory)
        else:
            os.sync()
    finally:
        for tmp, _data in _deferred.values():  # whatever was not renamed: an error came first
            _remove_quietly(tmp)
        _deferred = None
        _temp_listings.clear()


def write_file_atomic(path, data, mode=0o600, owner=None, group=None, defer=True):
    """Write bytes to `path` through a temp file in the same directory that has its final mode from the start.

    Inside deferred_writes() the write joins the batch, unless `defer` is false: shared files written under the
    PKI lock (the index) must be complete on disk before the lock is released.
    """
    if isinstance(data, str):
        data = data.encode()
    path = os.path.abspath(path)
    if _deferred is not None and path in _deferred and not defer:
        _remove_quietly(_deferred.pop(path)[0])
    if _deferred is not None and defer:
        if path in _deferred:
            _remove_quietly(_deferred.pop(path)[0])
        _deferred[path] = (_write_temp(path, data, mode, owner, group, sync=False), data)
        return
    tmp = _write_temp(path, data, mode, owner, group, sync=True)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise _write_error(path, exc) from None
    fsync_directory(os.path.dirname(path))


def create_file_exclusive(path, data, mode=0o600):
    """Create `path` complete with `data`, or not at all: an existing file is never replaced. False if one existed.

    The temp file is linked, not renamed, into place: link() fails where rename() would overwrite.
    """
    if isinstance(data, str):
        data = data.encode()
    path = os.path.abspath(path)
    tmp = _write_temp(path, data, mode, None, None, sync=True)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        _remove_quietly(tmp)
    fsync_directory(os.path.dirname(path))
    return True


def _write_temp(path, data, mode, owner, group, sync):
    """A complete temp file beside `path`, with its final mode and owner; fsynced when `sync`. Returns its path."""
    directory, name = os.path.split(path)
    remove_stale_temps(directory, name)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")
    except OSError as exc:
        raise FleetPkiError(f"cannot write {path}: {exc.strerror}") from None
    try:
        try:
            os.fchmod(fd, mode)
            if owner is not None or group is not None:
                os.fchown(fd, -1 if owner is None else owner, -1 if group is None else group)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _remove_quietly(tmp)
        raise _write_error(path, exc) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


def remove_stale_temps(directory, name):
    """Remove the temp files of `name` in `directory` that a killed write left behind; return how many.

    A kill between a temp file's creation and its rename leaves the temp file, which may hold a private key.
    Only temp files of the file about to be written are touched, and only when their writer is gone: its pid
    is not running on this machine, or the file is older than STALE_TEMP_SECONDS (a pid that was reused).
    """
    removed = 0
    prefix = f".{name}."
    for entry in _temp_entries(directory):
        if not entry.name.startswith(prefix):
            continue
        match = _TEMP_SUFFIX.match(entry.name[len(prefix):])
        if not match:
            continue
        try:
            stale = (match["pid"] is not None and not _running(int(match["pid"]))
                     or time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS)
            if stale:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # removed meanwhile by another run's sweep
    return removed


def _temp_entries(directory):
    """The directory's entries that may be temp files; listed once per directory in a batch of writes."""
    if _deferred is not None and directory in _temp_listings:
        return _temp_listings[directory]
    try:
        with os.scandir(directory) as entries:
            found = [entry for entry in entries if entry.name.startswith(".") and entry.name.endswith(".tmp")]
    except OSError:
        found = []  # a missing or unreadable directory: the write itself reports it
    if _deferred is not None:
        _temp_listings[directory] = found
    return found


def _running(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _write_error(path, exc):
    if exc.errno == errno.ENOSPC:
        return FleetPkiError(f"cannot write {path}: no space left on device; the old file is unchanged")
    return FleetPkiError(f"cannot write {path}: {exc.strerror}")


def read_file(path):
    """Bytes of `path`, or None if it does not exist (inside deferred_writes(), what was written there)."""
    if _deferred is not None and os.path.abspath(path) in _deferred:
        return _deferred[os.path.abspath(path)][1]
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FleetPkiError(f"cannot read {path}: {exc.strerror}") from None


def _fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory):
    """Make a directory's new entries (renames, links) durable; best effort, since not every file system can."""
    try:
        _fsync_path(directory)
    except OSError:
        pass


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
