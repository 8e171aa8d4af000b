# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The shape every fleet.pki action plugin shares: validated options in, a plain result out."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


class ControllerAction(ActionBase):
    """Runs in the controller's process. A FleetPkiError becomes a failed result (so retries/until work) whose message
    names the host, unless the message names its subject itself (HOST_PREFIX = False)."""

    _requires_connection = False
    ARGUMENT_SPEC = {}
    HOST_PREFIX = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _valid, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        host = task_vars["inventory_hostname"]
        try:
            result.update(self.act(host, args, task_vars))
        except FleetPkiError as exc:
            message = str(exc)
            if self.HOST_PREFIX and not message.startswith("host "):
                message = f"host {host}: {message}"
            result.update(failed=True, changed=False, msg=message)
        return result

    def act(self, host, args, task_vars):
        """The plugin's work: return the result dict, or raise FleetPkiError."""
        raise NotImplementedError
