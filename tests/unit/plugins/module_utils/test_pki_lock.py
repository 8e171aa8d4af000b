# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._pki_lock import pki_lock


def _hold(directory, ready, release):
    with pki_lock(directory):
        ready.set()
        release.wait(10)


def _append_under_lock(directory):
    for _number in range(20):
        with pki_lock(directory):
            path = os.path.join(directory, "counter")
            value = int(open(path, encoding="utf-8").read()) if os.path.exists(path) else 0
            time.sleep(0.001)  # widen the race window
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(str(value + 1))


def test_lock_times_out_with_a_clear_message_while_another_process_holds_it(tmp_path):
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(FleetPkiError, match="held the lock .* for more than 0s"):
            with pki_lock(str(tmp_path), timeout=0.2):
                pass
    finally:
        release.set()
        holder.join(10)
    with pki_lock(str(tmp_path), timeout=1):
        pass


def test_lock_serialises_concurrent_writers(tmp_path):
    workers = [multiprocessing.Process(target=_append_under_lock, args=(str(tmp_path),)) for _n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert open(tmp_path / "counter", encoding="utf-8").read() == "80"


def test_a_killed_holder_releases_the_lock(tmp_path):
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(10)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    with pki_lock(str(tmp_path), timeout=1):
        pass


def test_lock_file_is_private(tmp_path):
    with pki_lock(str(tmp_path)):
        pass
    assert os.stat(tmp_path / ".lock").st_mode & 0o777 == 0o600
