# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_pki_key_location: device, end to end on loopback (127.0.0.141-149): the key is made on the device."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
from conftest import Fleet, recap
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from trust_namespace import bare_python

DEVICES = {f"dev{n}": f"127.0.0.{140 + n}" for n in range(1, 4)}


@pytest.fixture
def fleet(tmp_path):
    fleet = Fleet(tmp_path, DEVICES)
    fleet.group_vars["fleet_pki_key_location"] = "device"
    fleet.write()
    return fleet


def run(fleet, *args):
    """Provision (plus the record play); return ({device: fleet.pki.certificate result}, output)."""
    record_dir = os.path.join(fleet.root, "record")
    os.makedirs(record_dir, exist_ok=True)
    for name in os.listdir(record_dir):
        os.unlink(os.path.join(record_dir, name))
    _rc, output = fleet.playbook("-e", f"record_dir={record_dir}", *args, playbook="tests/integration/record.yml")
    results = {name[:-5]: json.load(open(os.path.join(record_dir, name), encoding="utf-8"))
               for name in os.listdir(record_dir)}
    return results, output


def module_runs(output, address):
    """With pipelining, one module run on a device is one EXEC line in -vvv output."""
    return output.count(f"<{address}> EXEC ")


def load_key(path):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def load_cert(path):
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def key_body(path):
    """The key's whole base64 lines (a short last line could occur in any text by chance)."""
    lines = [line for line in open(path, encoding="utf-8").read().splitlines() if not line.startswith("-----")]
    assert lines
    return [line for line in lines if len(line) >= 32]


def assert_no_device_key_on_the_controller(fleet):
    for name in DEVICES:
        assert not os.path.exists(os.path.join(fleet.pki_dir, "hosts", name, "key.pem")), name
    for directory, _dirs, files in os.walk(fleet.pki_dir):
        for file_name in files:
            path = os.path.join(directory, file_name)
            if path != os.path.join(fleet.pki_dir, "ca", "ca.key"):
                assert b"PRIVATE KEY" not in open(path, "rb").read(), path


def assert_device_holds_matching_key(fleet, name):
    key_path = fleet.device_file(name, "key")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert not os.path.exists(key_path + ".pending")
    cert = load_cert(fleet.device_file(name, "cert"))
    assert cert.public_key() == load_key(key_path).public_key()
    return cert


def test_provision_with_device_keys_then_one_module_run_per_device(fleet):
    first, output = run(fleet, "-vvv")
    assert sorted(first) == sorted(DEVICES)
    for name, address in DEVICES.items():
        result = first[name]
        assert result["issued"] and result["reasons"] == ["missing: no certificate on the host"], result
        assert result["key_location"] == "device" and result["device_key_backend"] == "cryptography", result
        assert result["device_runs"] == 3 and module_runs(output, address) == 3, (name, result["device_runs"])
        assert result["changed_files"] == ["cert", "chain", "fullchain", "key"]
        cert = assert_device_holds_matching_key(fleet, name)
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        assert result["sans"] == [f"IP:{address}"]
        verify = subprocess.run(["openssl", "verify", "-CAfile", fleet.device_file(name, "chain"),
                                 fleet.device_file(name, "cert")], capture_output=True, text=True, check=False)
        assert verify.returncode == 0, verify.stderr
        assert "PRIVATE KEY" not in output
        assert not any(line in output for line in key_body(fleet.device_file(name, "key"))), name
    assert_no_device_key_on_the_controller(fleet)

    _rc, output = fleet.playbook("-vvv")
    counts = recap(output)
    assert counts and all(count["changed"] == 0 and count["failed"] == 0 for count in counts.values()), output
    for name, address in DEVICES.items():  # nothing changed: one module run per device, and no key work
        assert module_runs(output, address) == 1, (name, output)
        assert not os.path.exists(fleet.device_file(name, "key") + ".pending")
    assert "PRIVATE KEY" not in output
    again, _output = run(fleet)
    assert all(not result["issued"] and result["device_runs"] == 1 for result in again.values()), again


def test_a_device_without_python_cryptography_uses_the_openssl_cli(fleet, tmp_path):
    fleet.host_vars["dev2"]["ansible_python_interpreter"] = bare_python(str(tmp_path))
    fleet.write()
    first, output = run(fleet, "-vvv", "--limit", "dev2:laptop")
    result = first["dev2"]
    assert result["issued"] and result["device_key_backend"] == "openssl", result
    assert_device_holds_matching_key(fleet, "dev2")
    assert "PRIVATE KEY" not in output
    assert not any(line in output for line in key_body(fleet.device_file("dev2", "key")))
    assert_no_device_key_on_the_controller(fleet)

    _rc, output = fleet.playbook("-vvv", "--limit", "dev2:laptop")
    assert recap(output)["dev2"]["changed"] == 0, output
    assert module_runs(output, DEVICES["dev2"]) == 1, output


def test_renewal_issues_for_a_new_device_key_and_check_mode_makes_none(fleet):
    fleet.group_vars["fleet_pki_validity_days"] = 1
    fleet.write()
    first, _output = run(fleet, "--limit", "dev1:laptop")
    assert first["dev1"]["issued"]
    old_key = open(fleet.device_file("dev1", "key"), "rb").read()
    old_cert = load_cert(fleet.device_file("dev1", "cert"))

    fleet.group_vars["fleet_pki_renew_before"] = "97%"
    fleet.write()
    _rc, output = fleet.playbook("--check", "--limit", "dev1:laptop")
    assert recap(output)["dev1"]["changed"] == 1
    assert open(fleet.device_file("dev1", "key"), "rb").read() == old_key
    assert not os.path.exists(fleet.device_file("dev1", "key") + ".pending"), "check mode made a key"

    renewed, _output = run(fleet, "--limit", "dev1:laptop")
    result = renewed["dev1"]
    assert result["issued"] and result["reasons"][0].startswith("expiring: "), result
    assert open(fleet.device_file("dev1", "key"), "rb").read() != old_key, "a new certificate gets a new key"
    cert = assert_device_holds_matching_key(fleet, "dev1")
    assert cert.serial_number != old_cert.serial_number and cert.public_key() != old_cert.public_key()
    assert_no_device_key_on_the_controller(fleet)


def test_device_key_with_artifacts_delivery_is_refused(fleet):
    fleet.host_vars["dev3"]["fleet_pki_delivery"] = "artifacts"
    fleet.write()
    rc, output = fleet.playbook(check=False)
    assert rc != 0
    assert "host dev3: key_location 'device' needs delivery 'device', not 'artifacts'" in output, output
    assert not os.path.exists(os.path.join(fleet.state, "devices", "dev3"))
