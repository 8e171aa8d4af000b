# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/provision.yml end to end on a loopback fleet, checked by real TLS clients."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess

import pytest
from conftest import recap

import fleet_demo  # demo/fleet_demo.py: the endpoints and the TLS clients

PORT = 18443


def results(fleet, *args):
    record_dir = os.path.join(fleet.root, "record")
    os.makedirs(record_dir, exist_ok=True)
    for name in os.listdir(record_dir):
        os.unlink(os.path.join(record_dir, name))
    fleet.playbook("-e", f"record_dir={record_dir}", *args, playbook="tests/integration/record.yml")
    return {name[:-5]: json.load(open(os.path.join(record_dir, name), encoding="utf-8")) for name in os.listdir(record_dir)}


@pytest.fixture
def endpoints(fleet):
    def start():
        return fleet_demo.start(fleet.state, fleet.inventory, PORT)
    yield start
    fleet_demo.stop(fleet.state)


def test_provision_verify_rerun_and_readdress(fleet, endpoints):
    first = results(fleet)
    assert sorted(first) == sorted(fleet.devices)
    assert all(result["issued"] and result["reasons"] == ["missing: no certificate on the host"] for result in first.values())
    key = fleet.device_file("dev1", "key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(fleet.device_file("dev1", "fullchain")).st_mode) == 0o644
    assert not os.path.exists(os.path.join(fleet.pki_dir, "hosts", "dev1", "key.pem")), "device keys must not stay on the controller"

    devices = endpoints()
    rows = fleet_demo.verify(fleet.state, devices, PORT, fleet.bundle)
    assert len(rows) == 15 and all(ok for _name, _client, ok, _detail in rows), rows
    refused = fleet_demo.negative_control(devices, PORT)
    assert len(refused) == 15 and not any(ok for _name, _client, ok, _detail in refused), refused

    _rc, output = fleet.playbook("-vvv")
    assert recap(output) and all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap(output).values()), output
    for address in fleet.devices.values():  # nothing changed: one module run, one process, per device
        assert output.count(f"<{address}> EXEC ") == 1, (address, output)

    fleet.devices["dev3"] = "127.0.0.33"
    fleet.write()
    after = results(fleet)
    assert [name for name, result in after.items() if result["issued"]] == ["dev3"]
    assert after["dev3"]["reasons"] == ["SANs differ: +IP:127.0.0.33 -IP:127.0.0.23"]
    assert after["dev3"]["sans"] == ["IP:127.0.0.33"] and after["dev3"]["serial"] != first["dev3"]["serial"]
    assert after["dev1"]["serial"] == first["dev1"]["serial"]

    fleet_demo.stop(fleet.state)
    devices = endpoints()
    rows = fleet_demo.verify(fleet.state, {"dev3": devices["dev3"]}, PORT, fleet.bundle)
    assert all(ok for _name, _client, ok, _detail in rows), rows


def test_first_provision_costs_one_module_run_per_device_and_reports_what_was_there(fleet):
    # Nothing for these hosts in the index: issue at once, install in the only run, learn from it what was there.
    garbage = fleet.device_file("dev2", "cert")
    os.makedirs(os.path.dirname(garbage), exist_ok=True)
    with open(garbage, "w", encoding="utf-8") as handle:
        handle.write("not a certificate\n")
    _rc, output = fleet.playbook("-vvv")
    for address in fleet.devices.values():
        assert output.count(f"<{address}> EXEC ") == 1, (address, output)
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    assert re.search(r"^dev1\s+issued\s+missing: no certificate on the host$", summary, re.M), summary
    assert re.search(r"^dev2\s+\w+\s+unreadable: the certificate on the host is not a readable PEM certificate$",
                     summary, re.M), summary
    with open(garbage, encoding="utf-8") as handle:
        assert "BEGIN CERTIFICATE" in handle.read()
    # The index lists them now: the next run asks first, and keeps them.
    _rc, output = fleet.playbook("-vvv")
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output
    for address in fleet.devices.values():
        assert output.count(f"<{address}> EXEC ") == 1, (address, output)


def test_certificate_inside_renew_before_is_reissued(fleet):
    fleet.group_vars["fleet_pki_validity_days"] = 1
    fleet.write()
    first = results(fleet, "--limit", "dev1")
    assert first["dev1"]["issued"]
    assert not results(fleet, "--limit", "dev1")["dev1"]["issued"]  # 24 h of 25 h left: outside the default 33 %
    fleet.group_vars["fleet_pki_renew_before"] = "97%"
    fleet.write()
    renewed = results(fleet, "--limit", "dev1")["dev1"]
    assert renewed["issued"] and renewed["reasons"][0].startswith("expiring: 1.0 days left, renew_before is 97% of the lifetime")


def test_check_mode_on_a_new_fleet_writes_nothing_and_diff_shows_sans(fleet):
    fleet.playbook("--check", "--diff")
    assert not os.path.exists(fleet.state)
    fleet.playbook()
    fleet.devices["dev2"] = "127.0.0.42"
    fleet.write()
    cert_before = open(fleet.device_file("dev2", "cert"), encoding="utf-8").read()
    _rc, output = fleet.playbook("--check", "--diff")
    assert "-  - IP:127.0.0.22" in output and "+  - IP:127.0.0.42" in output and "+serial: (new)" in output, output
    assert recap(output)["dev2"]["changed"] == 1 and recap(output)["dev1"]["changed"] == 0
    assert open(fleet.device_file("dev2", "cert"), encoding="utf-8").read() == cert_before


def test_artifacts_delivery_writes_into_the_pki_directory_only(fleet):
    fleet.host_vars["dev5"]["fleet_pki_delivery"] = "artifacts"
    fleet.write()
    first = results(fleet, "--limit", "dev5:laptop")["dev5"]
    directory = os.path.join(fleet.pki_dir, "hosts", "dev5")
    assert first["issued"] and first["paths"]["key"] == os.path.join(directory, "key.pem")
    assert stat.S_IMODE(os.stat(os.path.join(directory, "key.pem")).st_mode) == 0o600
    assert not os.path.exists(os.path.join(fleet.state, "devices", "dev5"))
    result = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(directory, "chain.pem"),
                             os.path.join(directory, "cert.pem")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    _rc, output = fleet.playbook("--limit", "dev5:laptop")
    assert recap(output)["dev5"]["changed"] == 0


def test_a_device_still_serving_its_old_certificate_stops_the_rollout(fleet, endpoints):
    fleet.playbook()
    endpoints()  # these endpoints never reload: a re-issued device keeps serving its old certificate
    fleet.group_vars.update(fleet_pki_verify_port=PORT, fleet_pki_batches=1)
    for name in ("dev2", "dev4"):
        fleet.host_vars[name]["fleet_pki_key_type"] = "ec-p384"
    fleet.write()
    before_dev4 = open(fleet.device_file("dev4", "cert"), encoding="utf-8").read()
    rc, output = fleet.playbook("-e", "fleet_pki_batches=1", "-e", "device_verify_retries=1", check=False)
    assert rc != 0
    assert "host dev2: 127.0.0.22:18443 serves certificate" in output and "did the service reload?" in output, output
    counts = recap(output)
    assert counts["dev1"]["failed"] == 0 and counts["dev2"]["failed"] == 1
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    assert re.search(r"^dev1\s+kept$", summary, re.M), summary
    assert re.search(r"^dev2\s+FAILED .*did the service reload\? \(after: renewed key type differs: ec-p256 -> ec-p384\)$",
                     summary, re.M), summary
    for name in ("dev3", "dev4", "dev5"):  # the batches after the failing one never ran
        assert re.search(rf"^{name}\s+not reached", summary, re.M), summary
    assert open(fleet.device_file("dev4", "cert"), encoding="utf-8").read() == before_dev4
