# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.revocation: revoke certificates in the PKI directory and publish the CRL, in the controller's process."""

from __future__ import annotations

from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import iso
from ansible_collections.fleet.pki.plugins.module_utils._crl import DEFAULT_VALIDITY_DAYS
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._revocation import REASONS, revoke_and_publish
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import option_or_knob, resolve_pki_dir

ARGUMENT_SPEC = dict(
    pki_dir=dict(type="path"),
    hosts=dict(type="list", elements="str", default=[]),
    serials=dict(type="list", elements="str", default=[]),
    reason=dict(type="str", default="unspecified", choices=list(REASONS)),
    ca_passphrase=dict(type="str", no_log=True),
    crl_validity_days=dict(type="int"),
)


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    HOST_PREFIX = False  # the PKI is the fleet's, not the host's: messages name the PKI directory, serial or host

    def act(self, host, args, task_vars):
        pki_dir = resolve_pki_dir(option_or_knob(args, task_vars, self._templar, "pki_dir", "fleet_pki_dir"),
                                  task_vars, self._templar)
        passphrase = option_or_knob(args, task_vars, self._templar, "ca_passphrase")
        validity = option_or_knob(args, task_vars, self._templar, "crl_validity_days")
        hosts = [str(name).strip() for name in args["hosts"] if str(name).strip()]
        serials = [str(serial).strip() for serial in args["serials"] if str(serial).strip()]
        try:
            outcome = revoke_and_publish(pki_dir, serials=serials, hosts=hosts, reason=args["reason"],
                                         passphrase=passphrase,
                                         crl_validity_days=DEFAULT_VALIDITY_DAYS if validity is None else validity,
                                         check_mode=self._task.check_mode)
        except FleetPkiError as exc:
            raise FleetPkiError(f"revocation in {pki_dir}: {exc}") from None

        crl = outcome.crl
        result = {
            "changed": outcome.changed,
            "pki_dir": pki_dir,
            "hosts": hosts,
            "revoked": [_row(item) for item in outcome.revoked],
            "already_revoked": [_row(item) for item in outcome.already_revoked],
            "crl_path": outcome.paths["crl"],
            "crl_der_path": outcome.paths["crl_der"],
            "crl_number": crl.number,
            "crl_published": bool(crl.reasons),
            "crl_reasons": list(crl.reasons),
            "crl_entries": crl.entries,
            "this_update": iso(crl.this_update) if crl.this_update else None,
            "next_update": iso(crl.next_update) if crl.next_update else None,
        }
        in_inventory = set((task_vars.get("groups") or {}).get("all", []))
        still_there = sorted({item.host for item in outcome.revoked if item.host in in_inventory})
        if still_there:
            result["warnings"] = [
                f"{', '.join(still_there)} still in the inventory: the next provision issues a new certificate "
                "(reason: revoked); remove the host from the inventory to decommission it"
            ]
        if self._task.diff and outcome.changed:
            result["diff"] = _diff(outcome)
        return result


def _row(item):
    return {"serial": item.serial, "subject": item.subject, "host": item.host, "reason": item.reason,
            "revocation_date": iso(item.revoked_at)}


def _diff(outcome):
    diffs = []
    if outcome.index_diff:
        diffs.append({"before": "".join(f"{before}\n" for before, _after in outcome.index_diff),
                      "after": "".join(f"{after}\n" for _before, after in outcome.index_diff),
                      "before_header": outcome.paths["index"], "after_header": outcome.paths["index"]})
    crl = outcome.crl
    if crl.reasons:
        diffs.append({"before": "", "after": f"CRL number {crl.number}, {crl.entries} entries, "
                                             f"nextUpdate {iso(crl.next_update)} ({'; '.join(crl.reasons)})\n",
                      "before_header": outcome.paths["crl"], "after_header": outcome.paths["crl"]})
    return diffs
