# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""<pki_dir>/hosts/<host>/: the controller's copy of each host's public files, and the key for artefact-only hosts."""

from __future__ import annotations

import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, refuse_links
from ansible_collections.fleet.pki.plugins.module_utils._device_files import ROLES, FileSpec
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

HOSTS_DIR = "hosts"
FILE_NAMES = {"key": "key.pem", "cert": "cert.pem", "chain": "chain.pem", "fullchain": "fullchain.pem"}


def host_directory(pki_dir, host, create=False):
    if not host or "/" in host or host.startswith(".") or "\0" in host:
        raise FleetPkiError(f"inventory host name '{host}' cannot be used as a directory name")
    path = os.path.join(pki_dir, HOSTS_DIR, host)
    refuse_links(path, "host directory", "remove the link")  # hosts/<host> and hosts/ itself
    if create:
        ensure_directory(os.path.join(pki_dir, HOSTS_DIR), 0o700)
        ensure_directory(path, 0o700)
    return path


def artifact_specs(pki_dir, host):
    directory = host_directory(pki_dir, host)
    return {role: FileSpec(os.path.join(directory, FILE_NAMES[role]), 0o600 if role == "key" else 0o644)
            for role in ROLES}
