# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.authority: ensure the fleet CA in the PKI directory, in the controller's process."""

from __future__ import annotations

import datetime

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority, load_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_exports import (
    DER_FILE, EXPORT_FILES, MOBILECONFIG_FILE, export_paths, write_exports,
)
from ansible_collections.fleet.pki.plugins.module_utils._ca_renewal import (
    DEFAULT_CA_RENEW_BEFORE, ca_renewal_reason, renew_ca_certificate,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import PRESETS, expand_preset
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import option_or_knob, resolve_pki_dir

ARGUMENT_SPEC = dict(
    pki_dir=dict(type="path"),
    common_name=dict(type="str", default="fleet.pki CA"),
    organization=dict(type="str", default=""),
    key_type=dict(type="str", default="ec-p256"),
    validity_days=dict(type="int", default=3650),
    passphrase=dict(type="str", no_log=True),
    renew_before=dict(type="str"),
    create=dict(type="bool", default=True),
    name_constraints=dict(type="dict", options=dict(
        preset=dict(type="str", choices=list(PRESETS)),
        permitted_ip_networks=dict(type="list", elements="str", default=[]),
        permitted_dns_domains=dict(type="list", elements="str", default=[]),
    )),
)

EXPORT_KINDS = {DER_FILE: "CA certificate, DER", MOBILECONFIG_FILE: "Apple configuration profile"}


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC
    HOST_PREFIX = False  # the CA is the fleet's, not the host's: messages name the PKI directory

    def act(self, host, args, task_vars):
        pki_dir = resolve_pki_dir(option_or_knob(args, task_vars, self._templar, "pki_dir", "fleet_pki_dir"),
                                  task_vars, self._templar)
        constraints = args["name_constraints"] or {}
        # The preset (task option, else the host variable fleet_pki_ca_name_constraints) comes first, then the user's own.
        preset = option_or_knob(constraints, task_vars, self._templar, "preset", "fleet_pki_ca_name_constraints")
        try:
            networks, domains = expand_preset(preset, constraints.get("permitted_ip_networks"),
                                              constraints.get("permitted_dns_domains"))
        except FleetPkiError as exc:
            raise FleetPkiError(f"fleet CA in {pki_dir}: {exc}") from None
        settings = AuthoritySettings(
            common_name=args["common_name"],
            organization=args["organization"],
            key_type=args["key_type"],
            validity_days=args["validity_days"],
            permitted_ip_networks=networks,
            permitted_dns_domains=domains,
        )
        passphrase = option_or_knob(args, task_vars, self._templar, "passphrase", "fleet_pki_ca_passphrase")
        renew_before = option_or_knob(args, task_vars, self._templar, "renew_before", "fleet_pki_ca_renew_before")
        check_mode = self._task.check_mode
        now = datetime.datetime.now(datetime.timezone.utc)
        renewal = None
        try:
            if args["create"]:
                authority, created, notes = ensure_authority(pki_dir, settings, passphrase, check_mode=check_mode)
            else:
                authority, created, notes = load_authority(pki_dir), False, []
            if authority is not None and not created:
                renewal = ca_renewal_reason(authority.certificate, renew_before or DEFAULT_CA_RENEW_BEFORE, now)
            if renewal and not check_mode:
                before = authority.facts()["not_after"]
                authority = renew_ca_certificate(authority, passphrase, settings.validity_days, now)
                notes = notes + [f"renewed the CA certificate with the same key ({renewal}): valid until "
                                 f"{authority.facts()['not_after']} instead of {before}; leaves stay valid"]
            # The exports follow the CA on every run, so a CA made before they existed gets them too.
            # In check mode before the CA exists there is nothing to export yet: both would be written.
            exported = (write_exports(pki_dir, authority.certificate, authority.label, check_mode)
                        if authority is not None else list(EXPORT_FILES))
        except FleetPkiError as exc:
            raise FleetPkiError(f"fleet CA in {pki_dir}: {exc}") from None
        changed = created or bool(renewal) or bool(exported)
        result = {"changed": changed, "pki_dir": pki_dir, "renewed": bool(renewal)}
        if renewal:
            result["renewal_reason"] = renewal
        if notes:
            result["warnings"] = notes
        if authority is not None:
            facts = authority.facts()
            der_path, mobileconfig_path = export_paths(pki_dir)
            result.update(cert_path=facts["cert_path"], fingerprint_sha256=facts["fingerprint_sha256"],
                          not_after=facts["not_after"], subject=facts["subject"], label=facts["label"],
                          certificate=authority.pem, der_path=der_path, mobileconfig_path=mobileconfig_path)
        if self._task.diff and changed:
            after = [f"CA {settings.common_name} ({settings.key_type})"] if created else []
            after += [f"CA certificate renewed with the same key: {renewal}"] if renewal else []
            after += [f"{name} ({EXPORT_KINDS[name]})" for name in exported]
            result["diff"] = {"before": "", "after": "".join(f"{line}\n" for line in after),
                              "before_header": f"{pki_dir}/ca", "after_header": f"{pki_dir}/ca"}
        return result
