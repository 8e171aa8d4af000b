# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A controller that holds only the CA and its bookkeeping reaches the same decisions: the device is the source of truth.

A second control node (a fresh AWX job, a restored backup) needs the CA (ca/, and the CRL it signed) and
index.txt; the per-host copies in hosts/ are not needed to decide.
"""

from __future__ import annotations

import os
import re
import shutil

from conftest import recap

KEPT = {"ca", "index.txt", "crl.pem", "crl.der", "crlnumber"}


def device_files(fleet):
    return {(name, role): open(fleet.device_file(name, role), "rb").read()
            for name in fleet.devices for role in ("key", "cert", "chain", "fullchain")}


def test_a_controller_with_only_the_ca_and_the_index_changes_nothing(fleet):
    fleet.playbook()
    before = device_files(fleet)
    removed = sorted(set(os.listdir(fleet.pki_dir)) - KEPT)
    assert "hosts" in removed, removed  # the per-host records are what goes
    for name in removed:
        path = os.path.join(fleet.pki_dir, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)

    _rc, output = fleet.playbook()
    counts = recap(output)
    assert counts and all(host["changed"] == 0 and host["failed"] == 0 for host in counts.values()), output
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    assert all(re.search(rf"^{name}\s+kept$", summary, re.M) for name in fleet.devices), summary
    assert device_files(fleet) == before
