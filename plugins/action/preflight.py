# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.preflight: validate every host's certificate settings at once, before anything is written."""

from __future__ import annotations

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import duplicate_ip_errors, host_settings
from ansible_collections.fleet.pki.plugins.module_utils._names import san_strings
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import host_knobs, host_variables

ARGUMENT_SPEC = dict(hosts=dict(type="list", elements="str"))


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    HOST_PREFIX = False  # the message lists every host and what is wrong with it

    def act(self, host, args, task_vars):
        hosts = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_hosts_all", [])
        hostvars = task_vars["hostvars"]
        errors, checked = [], []
        for name in hosts:
            if name not in hostvars:
                errors.append(f"host {name}: not in the inventory")
                continue
            try:
                checked.append(host_settings(name, **host_knobs(host_variables(hostvars, name), self._templar)))
            except FleetPkiError as exc:
                errors.append(str(exc))
        errors += duplicate_ip_errors(checked)
        if errors:
            raise FleetPkiError("fleet.pki preflight found bad input; nothing was written:\n- " + "\n- ".join(errors))
        return {"changed": False, "hosts": {settings.host: san_strings(settings.sans) for settings in checked}}
