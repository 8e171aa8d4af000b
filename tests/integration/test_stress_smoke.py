# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make stress` in small: every scenario at a few devices, so that the harness and its checks cannot rot.

The long runs (500 devices with 50 forks, 300-device crash rounds) are `make stress`; their latest results
are in docs/security.md.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stress"))

import stress  # noqa: E402  pylint: disable=wrong-import-position


def test_every_stress_scenario_at_small_scale(tmp_path):
    summary = tmp_path / "stress.json"
    code = stress.main(["--n", "12", "--forks", "12", "--crash-n", "12", "--crash-forks", "4", "--rounds", "2",
                        "--work", str(tmp_path / "work"), "--json", str(summary)])
    results = json.loads(summary.read_text(encoding="utf-8"))["results"]
    assert code == 0, json.dumps(results, indent=2)
    assert set(results) == set(stress.SCENARIOS)
    assert results["forks"]["certificates"] == 12
    assert results["two"]["certificates"] == 12 and results["two"]["rerun_changed"] == 0
    for name in ("crash", "crash-batch"):
        assert len(results[name]["killed_at_s"]) == 2 and results[name]["final_rerun_changed"] == 0
        assert results[name]["temp_files_after_reruns"] == 0  # each rerun's writes remove what a kill left
