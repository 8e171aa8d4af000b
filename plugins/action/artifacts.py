# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.artifacts: decide, issue or keep, and export the artefacts of every artefact-only host, in one task.

The same decisions as fleet.pki.certificate makes per host, for the whole play at once (_artifact_batch):
one task instead of one per host, the CA key loaded once, and per 1,000 hosts one index write and one sync.
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._artifact_batch import converge_artifacts
from ansible_collections.fleet.pki.plugins.module_utils._artifact_exports import EXPORT_KNOBS, export_settings
from ansible_collections.fleet.pki.plugins.module_utils._authority import ca_paths, load_authority
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import duplicate_ip_errors, host_settings
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import host_knobs, host_variables, option_or_knob, resolve_pki_dir

ARGUMENT_SPEC = dict(
    hosts=dict(type="list", elements="str"),
    ca_passphrase=dict(type="str", no_log=True),
)
NO_CA_YET = "missing: the fleet CA does not exist yet"
# What each host's entry in the result keeps: enough for the summary and for scripts, small at 10,000 hosts.
REPORTED = ("changed", "issued", "reasons", "serial", "not_after", "sans", "fingerprint_sha256", "changed_files",
            "changed_artifacts")


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    HOST_PREFIX = False  # messages name their hosts

    def act(self, host, args, task_vars):
        names = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_hosts", [])
        hostvars = task_vars["hostvars"]
        groups, left_out, errors, checked = {}, [], [], []
        for name in names:  # every host checked before anything is written, as fleet.pki.preflight does
            variables = host_variables(hostvars, name) if name in hostvars else None
            try:
                if variables is None:
                    raise FleetPkiError(f"host {name}: not in the inventory")
                settings = host_settings(name, **host_knobs(variables, self._templar))
                if settings.delivery != "artifacts":
                    left_out.append(name)
                    continue
                knobs = {knob: option_or_knob({}, variables, self._templar, knob) for knob in EXPORT_KNOBS}
                export_settings(name, **knobs)
            except FleetPkiError as exc:
                errors.append(str(exc))
                continue
            checked.append(settings)
            pki_dir = resolve_pki_dir(option_or_knob({}, variables, self._templar, "pki_dir", "fleet_pki_dir"), variables,
                                      self._templar)
            groups.setdefault(pki_dir, (variables, []))[1].append((settings, knobs))
        errors += duplicate_ip_errors(checked)
        if errors:
            raise FleetPkiError("fleet.pki.artifacts found bad input; nothing was written:\n- " + "\n- ".join(errors))

        now = datetime.datetime.now(datetime.timezone.utc)
        outcomes, diffs = {}, []
        for pki_dir, (variables, jobs) in groups.items():
            if self._task.check_mode and not os.path.exists(ca_paths(pki_dir)[0]):  # a new fleet: all would be issued
                outcomes.update({settings.host: {"changed": True, "issued": False, "reasons": [NO_CA_YET]}
                                 for settings, _knobs in jobs})
                continue
            authority = load_authority(pki_dir)
            authority.refuse_if_expired(now)
            passphrase = args["ca_passphrase"] or option_or_knob({}, variables, self._templar, "ca_passphrase")
            for name, outcome in converge_artifacts(authority, jobs, now, lambda a=authority, p=passphrase: a.private_key(p),
                                                    check_mode=self._task.check_mode, diff=self._task.diff,
                                                    batch=True).items():
                diffs += _as_list(outcome.get("diff"))
                outcomes[name] = {key: outcome[key] for key in REPORTED if key in outcome}
        result = {"changed": any(outcome["changed"] for outcome in outcomes.values()), "hosts": outcomes,
                  "issued": sorted(name for name, outcome in outcomes.items() if outcome["issued"] or
                                   (self._task.check_mode and outcome["reasons"])),
                  "left_out": left_out}  # not "skipped": Ansible would take the whole task as skipped
        if diffs:
            result["diff"] = diffs
        return result


def _as_list(diff):
    if diff is None:
        return []
    return diff if isinstance(diff, list) else [diff]
