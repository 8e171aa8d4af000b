# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.served_certificate: check from the controller what a device really serves."""

from __future__ import annotations

import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import read_file
from ansible_collections.fleet.pki.plugins.module_utils._authority import load_authority
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import fingerprint_sha256, load_certificate
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_artifacts import artifact_specs
from ansible_collections.fleet.pki.plugins.module_utils._served_certificate import colon_hex, compare, fetch_served
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import option_or_knob, resolve_pki_dir

ARGUMENT_SPEC = dict(
    address=dict(type="str"),
    port=dict(type="int"),
    server_name=dict(type="str"),
    expected_fingerprint=dict(type="str"),
    pki_dir=dict(type="path"),
    timeout=dict(type="float", default=10.0),
)


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, host, args, task_vars):
        port = option_or_knob(args, task_vars, self._templar, "port", "fleet_pki_verify_port")
        if port in (None, ""):
            raise FleetPkiError("no port to check: set port or fleet_pki_verify_port")
        address = args["address"] or self._templar.template(task_vars.get("ansible_host") or host)
        pki_dir = resolve_pki_dir(option_or_knob(args, task_vars, self._templar, "pki_dir", "fleet_pki_dir"),
                                  task_vars, self._templar)
        authority = load_authority(pki_dir)
        expected = args["expected_fingerprint"] or self._recorded_fingerprint(pki_dir, host)
        served = fetch_served(address, port, authority.pem, args["timeout"], args["server_name"])
        if not compare(served, expected):
            raise FleetPkiError(
                f"{address}:{port} serves certificate {colon_hex(served)}, not the delivered {expected}; "
                "did the service reload?")
        return {"changed": False, "address": address, "port": int(port), "served_fingerprint": colon_hex(served),
                "verified": True}

    @staticmethod
    def _recorded_fingerprint(pki_dir, host):
        path = artifact_specs(pki_dir, host)["cert"].path
        pem = read_file(path)
        if pem is None:
            raise FleetPkiError(f"no delivered certificate recorded at {os.path.relpath(path, pki_dir)}; give expected_fingerprint")
        return fingerprint_sha256(load_certificate(pem, path))
