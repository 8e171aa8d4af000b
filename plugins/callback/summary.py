# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: summary
type: aggregate
short_description: Summary of a fleet.pki run, one line per device
version_added: 0.1.0
description:
  - At the end of the run, prints one line per device that fleet.pki looked at. A device is C(issued) (its first
    certificate), C(renewed) (a new certificate replaced the one it held; with the reasons), C(kept), C(FAILED) (with
    the task and the message), C(UNREACHABLE), or C(not reached) when a failing batch stopped the rollout before it.
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = fleet.pki.summary); the collection's C(ansible.cfg) does.
author: fleet.pki contributors (@fleet-pki)
requirements:
  - enabled in the configuration (C(callbacks_enabled))
"""

from ansible.plugins.callback import CallbackBase

CERTIFICATE_ACTIONS = ("fleet.pki.certificate", "certificate")
BATCH_ACTIONS = ("fleet.pki.artifacts", "artifacts")  # one result for many hosts
PREFLIGHT_ACTIONS = ("fleet.pki.preflight", "preflight")
# Reasons that mean the device had no usable certificate (the prefixes of _renewal_decision's reasons).
FIRST_ISSUE_REASONS = ("missing", "unreadable")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleet.pki.summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._devices = []  # in inventory order, from the preflight
        self._outcomes = {}

    def v2_runner_on_ok(self, result):
        action = result._task.action  # pylint: disable=protected-access
        data = result._result  # pylint: disable=protected-access
        if action in PREFLIGHT_ACTIONS:
            self._devices += [host for host in data.get("hosts", {}) if host not in self._devices]
        elif action in CERTIFICATE_ACTIONS:
            host = result._host.get_name()  # pylint: disable=protected-access
            self._outcomes[host] = _outcome(data, result._task.check_mode)  # pylint: disable=protected-access
        elif action in BATCH_ACTIONS:
            for host, outcome in data.get("hosts", {}).items():
                self._outcomes[host] = _outcome(outcome, result._task.check_mode)  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            return
        host = result._host.get_name()  # pylint: disable=protected-access
        message = "".join(str(result._result.get("msg", "")).splitlines()[0:1])  # pylint: disable=protected-access
        earlier = self._outcomes.get(host, "")
        after = f" (after: {earlier.split(None, 1)[0]} {earlier.split(None, 1)[-1].strip()})" if earlier.startswith(("issued", "renewed")) else ""
        self._outcomes[host] = f"FAILED       {result._task.get_name()}: {message}{after}"  # pylint: disable=protected-access

    def v2_runner_on_unreachable(self, result):
        host = result._host.get_name()  # pylint: disable=protected-access
        self._outcomes[host] = f"UNREACHABLE  {result._result.get('msg', '')}"  # pylint: disable=protected-access

    def v2_playbook_on_stats(self, stats):
        hosts = self._devices + [host for host in self._outcomes if host not in self._devices]
        if not hosts:
            return
        width = max(len(host) for host in hosts)
        self._display.banner("FLEET.PKI SUMMARY")
        for host in hosts:
            outcome = self._outcomes.get(host, "not reached  (the rollout stopped before this device)")
            self._display.display(f"{host:<{width}}  {outcome}")


def _outcome(data, check_mode):
    """One host's line: issued, renewed (with the reasons), or kept."""
    if not (data.get("issued") or data.get("reasons")):
        return "kept"
    reasons = data.get("reasons", [])
    # A device that held a usable certificate had it renewed; one that held none got its first.
    first = all(reason.startswith(FIRST_ISSUE_REASONS) for reason in reasons)
    if check_mode:
        verb = "would issue" if first else "would renew"
    else:
        verb = "issued" if first else "renewed"
    return f"{verb:<12} {'; '.join(reasons)}"
