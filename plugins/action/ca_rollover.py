# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.ca_rollover: move the fleet to a new CA key in three steps, in the controller's process."""

from __future__ import annotations

import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._ca_exports import write_exports
from ansible_collections.fleet.pki.plugins.module_utils._ca_rollover import (
    NEXT, PREVIOUS, STEPS, next_settings, prepare, retire, rollover_state, switch,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import option_or_knob, resolve_pki_dir

ARGUMENT_SPEC = dict(
    pki_dir=dict(type="path"),
    step=dict(type="str", required=True, choices=list(STEPS)),
    passphrase=dict(type="str", no_log=True),
    common_name=dict(type="str"),
    key_type=dict(type="str", choices=["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"]),
    validity_days=dict(type="int", default=3650),
)


def _facts(authority):
    if authority is None:
        return None
    facts = authority.facts()
    return {key: facts[key] for key in ("label", "subject", "not_after", "fingerprint_sha256", "cert_path")}


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    HOST_PREFIX = False  # the CA is the fleet's, not the host's: messages name the PKI directory

    def act(self, host, args, task_vars):
        pki_dir = resolve_pki_dir(option_or_knob(args, task_vars, self._templar, "pki_dir", "fleet_pki_dir"),
                                  task_vars, self._templar)
        passphrase = option_or_knob(args, task_vars, self._templar, "passphrase", "fleet_pki_ca_passphrase")
        check_mode, step = self._task.check_mode, args["step"]
        retired = None
        try:
            if step == "prepare":
                current = rollover_state(pki_dir)["current"]
                if current is None:
                    raise FleetPkiError("there is no CA to roll over from; run fleet.pki.authority first")
                settings = next_settings(current, datetime.datetime.now(datetime.timezone.utc), args["common_name"],
                                         args["key_type"], args["validity_days"])
                new, changed = prepare(pki_dir, settings, passphrase, check_mode)
                if new is not None and not check_mode:
                    write_exports(os.path.join(pki_dir, NEXT), new.certificate, new.label, False)
            elif step == "switch":
                changed = switch(pki_dir, check_mode)
                state = rollover_state(pki_dir)
                if changed and not check_mode:  # the exports follow the CA in ca/
                    write_exports(pki_dir, state["current"].certificate, state["current"].label, False)
            else:
                retired, changed = retire(pki_dir, check_mode)
            state = rollover_state(pki_dir)
        except FleetPkiError as exc:
            raise FleetPkiError(f"CA rollover ({step}) in {pki_dir}: {exc}") from None
        except OSError as exc:
            raise FleetPkiError(f"CA rollover ({step}) in {pki_dir}: {exc}") from None
        result = {"changed": changed, "pki_dir": pki_dir, "step": step,
                  "current": _facts(state["current"]), "next": _facts(state["next"]),
                  "previous": _facts(state["previous"])}
        if retired:
            result["retired_label"] = retired
        if self._task.diff and changed:
            what = {"prepare": f"a new CA in {NEXT}/ca",
                    "switch": f"{NEXT}/ca becomes ca, ca becomes {PREVIOUS}/ca",
                    "retire": f"{PREVIOUS}/ becomes retired/{retired}/"}[step]
            result["diff"] = {"before": "", "after": f"{step}: {what}\n", "before_header": pki_dir, "after_header": pki_dir}
        return result
