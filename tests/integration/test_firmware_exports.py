# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Firmware exports of artefact-only devices through playbooks/provision.yml, on loopback addresses 127.0.0.130-139.

The PKCS#12 password comes from ansible-vault, as the docs ask, and must never show in -vvv output.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest
from conftest import Fleet, recap

PASSWORD = "p12-canary-Vaulted-8812"
ALL_FORMATS = ["pem", "der", "der_inc", "pkcs12", "c_header"]
FW1_FILES = {"key.pem": 0o600, "cert.pem": 0o644, "chain.pem": 0o644, "fullchain.pem": 0o644,
             "cert.der": 0o644, "key.der": 0o600, "ca.der": 0o644,
             "cert.der.inc": 0o644, "key.der.inc": 0o600, "ca.der.inc": 0o644,
             "fw1.p12": 0o600, "fw_one.h": 0o600, "fw_one.c": 0o600}  # .h: the FreeRTOS key macro is in it
FW2_FILES = {"key.pem": 0o600, "cert.pem": 0o644, "chain.pem": 0o644, "fullchain.pem": 0o644,
             "cert.der": 0o644, "key.der": 0o600, "ca.der": 0o644}


@pytest.fixture
def fleet(tmp_path):
    fleet = Fleet(tmp_path, {"dev0": "127.0.0.130", "fw1": "127.0.0.131", "fw2": "127.0.0.132"})
    fleet.host_vars["fw1"] = {"fleet_pki_delivery": "artifacts", "fleet_pki_artifact_formats": ALL_FORMATS,
                              "fleet_pki_c_prefix": "fw_one", "fleet_pki_c_source": True, "fleet_pki_c_netburner": True,
                              "fleet_pki_c_freertos": True, "fleet_pki_c_bearssl": True}
    fleet.host_vars["fw2"] = {"fleet_pki_delivery": "artifacts"}
    fleet.write()
    vault_file = os.path.join(fleet.root, "vault-pass")
    with open(vault_file, "w", encoding="utf-8") as handle:
        handle.write("integration-vault-pass\n")
    encrypted = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-vault"), "encrypt_string",
                                "--vault-password-file", vault_file, "--name", "fleet_pki_pkcs12_password", PASSWORD],
                               capture_output=True, text=True, check=True).stdout
    host_vars = os.path.join(os.path.dirname(fleet.inventory), "host_vars")
    os.makedirs(host_vars)
    with open(os.path.join(host_vars, "fw1.yml"), "w", encoding="utf-8") as handle:
        handle.write("---\n" + encrypted)
    fleet.vault_args = ("--vault-password-file", vault_file)
    return fleet


def directory(fleet, host):
    return os.path.join(fleet.pki_dir, "hosts", host)


def snapshot(fleet, host):
    root = directory(fleet, host)
    return {name: open(os.path.join(root, name), "rb").read() for name in sorted(os.listdir(root))}


def results(fleet, *args):
    record_dir = os.path.join(fleet.root, "record")
    shutil.rmtree(record_dir, ignore_errors=True)
    os.makedirs(record_dir)
    _rc, output = fleet.playbook(*fleet.vault_args, "-e", f"record_dir={record_dir}", *args,
                                 playbook="tests/integration/record.yml")
    recorded = {name[:-5]: json.load(open(os.path.join(record_dir, name), encoding="utf-8"))
                for name in os.listdir(record_dir)}
    return recorded, output


def test_exports_are_written_kept_and_never_leak_the_password(fleet):
    fleet.playbook(*fleet.vault_args, "--check")
    assert not os.path.exists(fleet.state), "check mode on a new fleet wrote something"

    first, output = results(fleet, "-vvv")
    assert PASSWORD not in output and "PRIVATE KEY" not in output
    fw1 = directory(fleet, "fw1")
    assert {name: stat.S_IMODE(os.stat(os.path.join(fw1, name)).st_mode) for name in os.listdir(fw1)} == FW1_FILES
    fw2 = directory(fleet, "fw2")
    assert {name: stat.S_IMODE(os.stat(os.path.join(fw2, name)).st_mode) for name in os.listdir(fw2)} == FW2_FILES
    assert first["fw1"]["issued"] and first["fw1"]["artifacts"]["pkcs12"] == os.path.join(fw1, "fw1.p12")
    assert sorted(first["fw1"]["changed_artifacts"]) == sorted(set(FW1_FILES) - {"key.pem", "cert.pem", "chain.pem",
                                                                                 "fullchain.pem"})
    assert sorted(first["fw2"]["artifacts"]) == ["ca_der", "cert_der", "key_der"]
    assert "artifacts" not in first["dev0"]
    header = open(os.path.join(fw1, "fw_one.h"), encoding="ascii").read()
    assert "extern const br_x509_trust_anchor fw_one_TAs[];" in header and "#define keyCLIENT_PRIVATE_KEY_PEM" in header
    info = subprocess.run(["openssl", "pkcs12", "-info", "-noout", "-in", os.path.join(fw1, "fw1.p12"),
                           "-passin", f"pass:{PASSWORD}"], capture_output=True, text=True, check=False)
    assert info.returncode == 0 and "pbeWithSHA1And3-KeyTripleDES-CBC" in info.stdout + info.stderr, info.stderr
    with open(os.path.join(fw1, "ca.der"), "rb") as handle:
        ca_der = handle.read()
    with open(os.path.join(fleet.pki_dir, "ca", "ca.der.crt"), "rb") as handle:
        assert handle.read() == ca_der

    before = {host: snapshot(fleet, host) for host in ("fw1", "fw2")}
    _rc, output = fleet.playbook(*fleet.vault_args, "-vvv")
    counts = recap(output)
    assert counts and all(host_counts["changed"] == 0 and host_counts["failed"] == 0 for host_counts in counts.values()), \
        output
    assert PASSWORD not in output
    assert {host: snapshot(fleet, host) for host in ("fw1", "fw2")} == before

    # A new password: check mode names the PKCS#12 and writes nothing; the real run rewrites only that file.
    with open(os.path.join(os.path.dirname(fleet.inventory), "host_vars", "fw1.yml"), "a", encoding="utf-8") as handle:
        handle.write("fleet_pki_pkcs12_encryption: modern\n")
    _rc, output = fleet.playbook(*fleet.vault_args, "--check", "--diff", "--limit", "fw1:laptop")
    assert recap(output)["fw1"]["changed"] == 1 and "fw1 exports to write in" in output and "  fw1.p12" in output, output
    assert snapshot(fleet, "fw1") == before["fw1"]
    second, output = results(fleet, "--limit", "fw1:laptop")
    assert second["fw1"]["changed_artifacts"] == ["fw1.p12"] and not second["fw1"]["issued"]
    after = snapshot(fleet, "fw1")
    assert [name for name in after if after[name] != before["fw1"][name]] == ["fw1.p12"]


BAD_KNOBS = [
    ("format", {"fleet_pki_artifact_formats": ["pem", "jks"]}, "host fw2: fleet_pki_artifact_formats entry 'jks' is not one of"),
    ("prefix", {"fleet_pki_artifact_formats": ["c_header"], "fleet_pki_c_prefix": "2fast"},
     "host fw2: fleet_pki_c_prefix '2fast' is not a valid C identifier prefix"),
    ("no password", {"fleet_pki_artifact_formats": ["pkcs12"]}, "host fw2: fleet_pki_artifact_formats has 'pkcs12' but"),
]


@pytest.mark.parametrize("case, knobs, message", BAD_KNOBS, ids=[case[0] for case in BAD_KNOBS])
def test_bad_export_knobs_name_host_and_value_and_write_nothing(fleet, case, knobs, message):
    del case
    fleet.host_vars["fw2"].update(knobs)
    fleet.write()
    rc, output = fleet.playbook(*fleet.vault_args, "--limit", "fw2:laptop", check=False)
    assert rc != 0 and message in output, output
    assert not os.path.exists(directory(fleet, "fw2"))
