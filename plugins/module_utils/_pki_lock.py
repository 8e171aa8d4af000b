# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""An exclusive lock on the PKI directory, held while shared state (serials, index) changes.

Forks and concurrent runs of the same fleet all take it. flock() is released by the kernel when a
process dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

LOCK_FILE = ".lock"


@contextlib.contextmanager
def pki_lock(pki_dir, timeout=120.0, poll=0.05):
    path = os.path.join(pki_dir, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise FleetPkiError(f"cannot open the lock file {path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FleetPkiError(
                        f"another fleet.pki run has held the lock {path} for more than {timeout:.0f}s"
                    ) from None
                time.sleep(poll)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
