# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.preflight: validate every host's certificate settings at once, before anything is written."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import duplicate_ip_errors, host_settings
from ansible_collections.fleet.pki.plugins.module_utils._names import san_strings
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import host_knobs

ARGUMENT_SPEC = dict(hosts=dict(type="list", elements="str"))


class ActionModule(ActionBase):

    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hosts = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_hosts_all", [])
        hostvars = task_vars["hostvars"]
        errors, checked = [], []
        for host in hosts:
            if host not in hostvars:
                errors.append(f"host {host}: not in the inventory")
                continue
            try:
                checked.append(host_settings(host, **host_knobs(hostvars[host], self._templar)))
            except FleetPkiError as exc:
                errors.append(str(exc))
        errors += duplicate_ip_errors(checked)
        if errors:
            raise AnsibleActionFail("fleet.pki preflight found bad input; nothing was written:\n- " + "\n- ".join(errors))
        result.update(changed=False, hosts={s.host: san_strings(s.sans) for s in checked})
        return result
