# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The delivery target of an artefact-only host: its directory in the PKI directory on the controller."""

from __future__ import annotations

import os

from ansible_collections.fleet.pki.plugins.module_utils._artifact_exports import converge_exports, export_settings
from ansible_collections.fleet.pki.plugins.module_utils._device_files import converge, report
from ansible_collections.fleet.pki.plugins.module_utils._host_artifacts import artifact_specs, host_directory


class ArtifactTarget:
    """<pki_dir>/hosts/<host>/ on the controller: the output for devices that cannot run Python."""

    def __init__(self, pki_dir, host, check_mode, export_knobs=None):
        self._pki_dir, self._host, self._check_mode = pki_dir, host, check_mode
        self._specs = artifact_specs(pki_dir, host)  # refuses a linked host directory, here once
        self._directory = os.path.dirname(self._specs["key"].path)
        self._exports = export_settings(host, **(export_knobs or {}))  # validated before anything is written

    def paths(self):
        return {role: spec.path for role, spec in self._specs.items()}

    def inspect(self, chain_pem):
        if not os.path.isdir(self._directory):  # a new host: nothing held
            return None, "missing", ([], [])
        changed = converge(self._specs, {"chain": chain_pem}, check_mode=self._check_mode)
        held = report(self._specs)
        return held["certificate"], held["key_state"], changed

    def install(self, key_pem, cert_pem, chain_pem):
        host_directory(self._pki_dir, self._host, create=True)
        return converge(self._specs, {"key": key_pem, "cert": cert_pem, "chain": chain_pem})[0], None

    def export(self, outcome, chain_pem, pending, diff):
        """DER, .der.inc, PKCS#12 and C exports from the files above; `pending`: check mode, and a new certificate is due."""
        paths, changed = converge_exports(self._directory, self._exports, chain_pem,
                                          check_mode=self._check_mode, pending=pending)
        outcome.update(artifacts=paths, changed_artifacts=changed)
        if changed:
            outcome["changed"] = True
        if changed and diff:
            entry = {"prepared": f"{self._host} exports {'to write' if self._check_mode else 'written'} in "
                                 f"{self._directory}:\n" + "".join(f"  {name}\n" for name in changed)}
            outcome["diff"] = [outcome["diff"], entry] if "diff" in outcome else entry
