# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Atomic writes: a reader (or a crash) sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import errno
import os
import tempfile

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


def write_file_atomic(path, data, mode=0o600, owner=None, group=None):
    """Write bytes to `path` through a temp file in the same directory that has its final mode from the start."""
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
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
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        if exc.errno == errno.ENOSPC:
            raise FleetPkiError(f"cannot write {path}: no space left on device; the old file is unchanged") from None
        raise FleetPkiError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_directory(directory)


def read_file(path):
    """Bytes of `path`, or None if it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FleetPkiError(f"cannot read {path}: {exc.strerror}") from None


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
