# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A full disk during a renewal of the whole fleet: a clear error, no file torn, and the next run converges.

The fleet's state (PKI directory and devices) lives on a small tmpfs that a filler file makes full.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stress"))

import fleet_check  # noqa: E402  pylint: disable=wrong-import-position

DEVICES = [f"dev{n}" for n in range(1, 6)]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture(params=["state", "devices"], ids=["controller-and-devices-full", "devices-full"])
def small_disk(request, fleet):
    """The fleet, with a small tmpfs under its whole state or under its devices only; yields (fleet, mount point)."""
    mount_point = fleet.state if request.param == "state" else os.path.join(fleet.state, "devices")
    os.makedirs(mount_point)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "fleet-full-disk", mount_point], check=True)
    try:
        yield fleet, mount_point
    finally:
        subprocess.run(["umount", mount_point], check=True)


def _fill(directory):
    """Write a filler file until the file system is full; return its path."""
    path = os.path.join(directory, "filler")
    with open(path, "wb", buffering=0) as handle:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return path


def _snapshot(root):
    files = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            if name != "filler":
                with open(os.path.join(directory, name), "rb") as handle:
                    files[os.path.relpath(os.path.join(directory, name), root)] = handle.read()
    return files


def test_a_full_disk_fails_clearly_tears_nothing_and_the_next_run_converges(small_disk):
    fleet, mount_point = small_disk
    fleet.playbook()
    before = _snapshot(fleet.state)
    for name in DEVICES:  # a new SAN for every device: the whole fleet is re-issued
        fleet.host_vars[name]["fleet_pki_dns_names"] = [f"{name}.plant.example"]
    fleet.write()
    filler = _fill(mount_point)

    rc, output = fleet.playbook(check=False)
    assert rc != 0 and "no space left on device; the old file is unchanged" in output, output
    assert re.search(r"host dev\d: (delivery failed: )?cannot write \S+: no space left on device", output), output
    assert "Traceback" not in output, output
    after = _snapshot(fleet.state)
    changed = sorted(path for path in before if after.get(path) != before[path])
    report = fleet_check.check_fleet(fleet.pki_dir, os.path.join(fleet.state, "devices"), DEVICES)
    assert report, report.summary()
    assert report.leftover_temps == 0, report.summary()
    assert not changed or all(fleet_check.file_problem(os.path.join(fleet.state, path)) is None for path in changed)

    os.unlink(filler)
    fleet.playbook()
    report = fleet_check.check_fleet(fleet.pki_dir, os.path.join(fleet.state, "devices"), DEVICES)
    assert report, report.summary()
    for name in DEVICES:
        result = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", fleet.device_file(name, "cert")],
                                capture_output=True, text=True, check=True)
        assert f"DNS:{name}.plant.example" in result.stdout, result.stdout
