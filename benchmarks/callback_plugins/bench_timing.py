# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timing
type: aggregate
short_description: Wall time per task, for the benchmark harness
description:
  - Writes the wall time of every task (from its start to the start of the next one, or to the end of the
    playbook) as JSON to the file named by the environment variable E(FLEET_BENCH_TIMING).
  - Used by C(benchmarks/bench.py) only; it is not part of the collection's interface.
requirements:
  - enabled with C(callbacks_enabled) and found through C(ANSIBLE_CALLBACK_PLUGINS)
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._tasks = []  # [name, seconds], in order; a task that runs in several plays adds up
        self._current = None

    def _close(self):
        if self._current is not None:
            name, started = self._current
            self._tasks.append([name, time.monotonic() - started])
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._current = (task.get_name(), time.monotonic())

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_play_start(self, play):
        self._close()

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("FLEET_BENCH_TIMING")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self._tasks, handle)
