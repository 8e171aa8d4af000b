# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.fleet_report: write fleet.json, fleet.prom and fleet.html from what fleet.pki.certificate_report collected.

Runs once, in the controller's process, after the collection task: it reads each host's registered result
from hostvars, classifies it against the CA and index.txt with one clock reading, and writes the three files
atomically. In check mode it writes nothing and returns the counts.
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._authority import load_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_index import read_index
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._fleet_report import (
    DEFAULT_RESULT_KEY, build_report, host_entry, to_json, to_prometheus,
)
from ansible_collections.fleet.pki.plugins.module_utils._report_html import render
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import option_or_knob, resolve_pki_dir

REPORT_DIR = "report"
FILES = {"json": "fleet.json", "prometheus": "fleet.prom", "html": "fleet.html"}

ARGUMENT_SPEC = dict(
    pki_dir=dict(type="path"),
    dest=dict(type="path"),
    prometheus_path=dict(type="path"),
    hosts=dict(type="list", elements="str"),
    results_from=dict(type="str", default=DEFAULT_RESULT_KEY),
)


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    HOST_PREFIX = False  # runs once for the whole fleet: its errors are not about the host it runs on

    def act(self, host, args, task_vars):
        pki_dir = resolve_pki_dir(option_or_knob(args, task_vars, self._templar, "pki_dir", "fleet_pki_dir"),
                                  task_vars, self._templar)
        authority = load_authority(pki_dir)
        entries = read_index(pki_dir)
        hosts = args["hosts"] if args["hosts"] is not None else list(task_vars.get("ansible_play_hosts_all") or [])
        hostvars = task_vars.get("hostvars") or {}
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        lines = [host_entry(name, self._collected(hostvars, name, args["results_from"]), authority.certificate, entries,
                            now, pki_dir)
                 for name in dict.fromkeys(hosts)]
        report = build_report(lines, authority.certificate, now, pki_dir)

        dest = os.path.abspath(args["dest"] or os.path.join(pki_dir, REPORT_DIR))
        paths = {kind: os.path.join(dest, name) for kind, name in FILES.items()}
        if args["prometheus_path"]:
            paths["prometheus"] = os.path.abspath(args["prometheus_path"])
        if not self._task.check_mode:
            ensure_directory(dest, 0o755)
            ensure_directory(os.path.dirname(paths["prometheus"]), 0o755)
            write_file_atomic(paths["json"], to_json(report), mode=0o644)
            write_file_atomic(paths["prometheus"], to_prometheus(report), mode=0o644)
            write_file_atomic(paths["html"], render(report), mode=0o644)
        return {
            "changed": True, "dest": dest, "paths": paths, "generated_at": report["generated_at"],
            "counts": report["counts"], "total": report["total"], "ca_days_left": report["ca"]["days_left"],
            "statuses": {line["host"]: line["status"] for line in report["hosts"]},
        }

    @staticmethod
    def _collected(hostvars, name, key):
        try:
            variables = hostvars[name]
        except KeyError:
            raise FleetPkiError(f"host {name} is not in the inventory") from None
        try:
            value = variables.get(key)
        except Exception:  # pylint: disable=broad-exception-caught  # an undefined or broken value: nothing collected
            return None
        return value if isinstance(value, dict) else None
