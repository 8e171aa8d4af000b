# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/artifacts.yml: every artefact-only device in one task, decided as provision.yml decides per device.

No device is contacted: the 30 firmware devices have addresses in 10.77.0.0/24 that nothing answers, and the
one Linux device (127.0.0.160) is left to provision.yml.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import Fleet, recap

FIRMWARE = {f"fw{n:02d}": f"10.77.0.{n + 1}" for n in range(30)}


@pytest.fixture
def fleet(tmp_path):
    fleet = Fleet(tmp_path, dict(FIRMWARE, gw="127.0.0.160"))
    for name in FIRMWARE:
        fleet.host_vars[name] = {"fleet_pki_delivery": "artifacts"}
    fleet.host_vars["fw00"]["fleet_pki_artifact_formats"] = ["pem", "der", "c_header"]
    fleet.write()
    return fleet


def summary(output):
    return dict(re.findall(r"^(\S+)\s+(issued|renewed|kept|would issue|would renew)\b", output.split("FLEET.PKI SUMMARY", 1)[1],
                           re.M))


def index_lines(fleet):
    with open(os.path.join(fleet.pki_dir, "index.txt"), encoding="utf-8") as handle:
        return handle.read().splitlines()


def test_one_task_issues_keeps_and_agrees_with_provision(fleet):
    _rc, output = fleet.playbook("--check", playbook="playbooks/artifacts.yml")
    assert set(summary(output).values()) == {"would issue"} and len(summary(output)) == 30, output
    assert not os.path.exists(fleet.pki_dir), "check mode on a new fleet wrote something"

    _rc, output = fleet.playbook(playbook="playbooks/artifacts.yml")
    assert summary(output) == {name: "issued" for name in FIRMWARE}, output
    assert "gw" not in summary(output)
    assert len(index_lines(fleet)) == 30  # one index write for the batch, one line per certificate
    ca = os.path.join(fleet.pki_dir, "ca", "ca.crt")
    for name, address in FIRMWARE.items():
        host = os.path.join(fleet.pki_dir, "hosts", name)
        assert sorted(os.listdir(host)) == sorted(
            ["key.pem", "cert.pem", "chain.pem", "fullchain.pem", "cert.der", "key.der", "ca.der"]
            + (["fw00.h"] if name == "fw00" else [])), name
        assert oct(os.stat(os.path.join(host, "key.pem")).st_mode & 0o777) == "0o600"
        verify = subprocess.run(["openssl", "verify", "-CAfile", ca, "-verify_ip", address, "-x509_strict",
                                 os.path.join(host, "cert.pem")], capture_output=True, text=True, check=False)
        assert verify.returncode == 0, (name, verify.stdout + verify.stderr)
        assert not [entry for entry in os.listdir(host) if entry.endswith(".tmp")], name

    _rc, output = fleet.playbook(playbook="playbooks/artifacts.yml")
    assert set(summary(output).values()) == {"kept"} and recap(output)["fw00"]["changed"] == 0, output

    # The per-device path reaches the same decisions: every firmware device is kept.
    _rc, output = fleet.playbook("--limit", "fw*")
    assert summary(output) == {name: "kept" for name in FIRMWARE}, output

    fleet.host_vars["fw07"]["fleet_pki_dns_names"] = ["fw07.fleet.test"]
    fleet.write()
    _rc, output = fleet.playbook("--diff", playbook="playbooks/artifacts.yml")
    assert {name: verb for name, verb in summary(output).items() if verb != "kept"} == {"fw07": "renewed"}, output
    assert "+  - DNS:fw07.fleet.test" in output
    assert len(index_lines(fleet)) == 31


def test_bad_input_fails_naming_every_host_and_writes_nothing(fleet):
    fleet.playbook(playbook="playbooks/artifacts.yml")
    before = index_lines(fleet)
    fleet.devices["fw03"] = FIRMWARE["fw04"]
    fleet.host_vars["fw05"]["fleet_pki_artifact_formats"] = ["pkcs12"]  # without a password
    fleet.host_vars["fw06"]["fleet_pki_dns_names"] = ["-bad-.example"]
    fleet.host_vars["fw09"]["fleet_pki_dns_names"] = ["fw09.fleet.test"]  # valid, and due: still not issued
    fleet.write()
    rc, output = fleet.playbook(playbook="playbooks/artifacts.yml", check=False)
    assert rc != 0
    text = re.sub(r"\s+", " ", output)
    assert "fleet.pki.artifacts found bad input; nothing was written" in text, output
    assert "IP 10.77.0.5 is claimed by more than one host: fw03, fw04" in text, output
    assert "fw05" in text and "fleet_pki_pkcs12_password" in text, output
    assert "host fw06" in text and "-bad-.example" in text, output
    assert index_lines(fleet) == before


def test_templated_knobs_are_expanded_in_the_hosts_own_context(fleet):
    # Plain knobs are read without a template engine per host (_host_knobs.host_variables); a template must
    # still be expanded, with the variables of the host it belongs to.
    for name in ("fw01", "fw02"):
        fleet.host_vars[name].update(fleet_site=f"site-{name}",
                                     fleet_pki_dns_names=["{{ inventory_hostname }}.{{ fleet_site }}.test"])
    fleet.write()
    _rc, output = fleet.playbook(playbook="playbooks/artifacts.yml")
    assert summary(output)["fw01"] == "issued", output
    for name in ("fw01", "fw02"):
        sans = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                               os.path.join(fleet.pki_dir, "hosts", name, "cert.pem")],
                              capture_output=True, text=True, check=True).stdout
        assert f"DNS:{name}.site-{name}.test" in sans, sans
    _rc, output = fleet.playbook(playbook="playbooks/artifacts.yml")
    assert set(summary(output).values()) == {"kept"}, output
