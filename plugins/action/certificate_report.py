# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.certificate_report: which certificate does this host hold? The collection step of playbooks/report.yml.

The device is the source of truth: a device costs one run of fleet.pki.certificate_files, always in check
mode, so nothing on it changes. An artefact-only host (delivery: artifacts) costs no connection at all: its
files in <pki_dir>/hosts/<host>/ are what it holds. A host that cannot be reached is returned as unreachable
(with its settings), so the report can still list it.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleConnectionFailure
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import describe, load_certificate
from ansible_collections.fleet.pki.plugins.module_utils._device_files import report
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_artifacts import artifact_specs
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import host_knobs, option_or_knob, resolve_pki_dir

DEFAULT_DEST = "/etc/fleet-pki"
FILE_NAMES = {"key": "key.pem", "cert": "cert.pem", "chain": "chain.pem", "fullchain": "fullchain.pem"}

ARGUMENT_SPEC = dict(
    pki_dir=dict(type="path"),
    ip_addresses=dict(type="list", elements="str"),
    dns_names=dict(type="list", elements="str"),
    profile=dict(type="str", choices=["server", "client", "server_client"]),
    key_type=dict(type="str"),
    validity_days=dict(type="int"),
    renew_before=dict(type="str"),
    delivery=dict(type="str", choices=["device", "artifacts"]),
    dest=dict(type="path"),
    key_path=dict(type="path", no_log=False),
    cert_path=dict(type="path"),
    chain_path=dict(type="path"),
    fullchain_path=dict(type="path"),
)


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, host, args, task_vars):
        knobs = host_knobs(task_vars, self._templar, args)
        pki_dir = resolve_pki_dir(option_or_knob(args, task_vars, self._templar, "pki_dir", "fleet_pki_dir"),
                                  task_vars, self._templar)
        base = {"changed": False, "knobs": _plain(knobs), "pki_dir": pki_dir}
        try:
            settings = host_settings(host, **knobs)
        except FleetPkiError as exc:
            return dict(base, failed=True, msg=str(exc), source=None)
        base["source"] = settings.delivery

        if settings.delivery == "artifacts":
            specs = artifact_specs(pki_dir, host)
            paths = {role: spec.path for role, spec in specs.items()}
            held = report(specs)
        else:
            paths = self._device_paths(args, task_vars)
            try:
                held = self._run_on_device(paths, task_vars)
            except AnsibleConnectionFailure as exc:
                return dict(base, unreachable=True, msg=f"host {host}: {exc.message}", paths=paths)
            if held.get("failed"):
                return dict(base, failed=True, paths=paths,
                            msg=f"host {host}: fleet.pki.certificate_files failed: {held.get('msg', 'no message')}")
        result = dict(base, paths=paths, certificate=held.get("certificate"), key_state=held.get("key_state", "unknown"))
        result.update(_summary(result["certificate"]))
        return result

    def _device_paths(self, args, task_vars):
        dest = option_or_knob(args, task_vars, self._templar, "dest") or DEFAULT_DEST
        return {role: args[f"{role}_path"] or os.path.join(dest, FILE_NAMES[role]) for role in FILE_NAMES}

    def _run_on_device(self, paths, task_vars):
        """One run of the real device module, forced into check mode: it reports and changes nothing."""
        module_args = {f"{role}_path": path for role, path in paths.items()}
        check_mode = self._task.check_mode
        self._task.check_mode = True
        try:
            return self._execute_module(module_name="fleet.pki.certificate_files", module_args=module_args,
                                        task_vars=task_vars)
        finally:
            self._task.check_mode = check_mode


def _plain(knobs):
    """The knobs as JSON-ready values (lists for sequences), for the report step to rebuild the settings."""
    return {name: list(value) if isinstance(value, (list, tuple)) else value for name, value in knobs.items()}


def _summary(cert_pem):
    if not cert_pem:
        return {"serial": None, "not_after": None, "sans": []}
    try:
        facts = describe(load_certificate(cert_pem))
    except FleetPkiError:
        return {"serial": None, "not_after": None, "sans": []}
    return {key: facts[key] for key in ("serial", "not_after", "sans")}
