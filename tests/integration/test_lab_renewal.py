# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Renewal on a schedule, in the lab: a lab machine is the control node, and nobody runs anything by hand.

dev1 (Debian 12 with python3-cryptography) gets ansible-core in a venv, this checkout of the collection,
the lab's SSH key and an inventory of dev2 and dev3 (nginx on 443). From dev1, provision.yml issues
short-lived certificates (validity 1 day, renew_before 97%, so they are due at once). Then the renewal
role installs the schedule on dev1, and the tests only watch: the systemd timer fires, renew.yml runs
from the journal's point of view, and the devices serve new certificates (nginx reloaded). The same
again with cron. Removal leaves nothing behind.

The tests run in order and build on each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml
from conftest import REPO, recap
from lab_helpers import KEY, PREPARE, SSH_VARS, lab, missing_lab_tools, playbook, ssh

CONTROL = ("dev1", "10.214.0.11")
DEVICES = {"dev2": "10.214.0.12", "dev3": "10.214.0.13"}
PROJECT = "/opt/fleet"  # on the control node
UNIT = "fleet-pki-renew"
# The control node is a Debian 12 machine (Python 3.11): its venv gets the runtime set that
# requirements/runtime-py3.11.lock.txt pins (with hashes), whichever support line runs this test. A venv is not
# relocatable, so it is built here at a path that is the same on the control node.
REQUIREMENTS = os.path.join(REPO, "requirements", "runtime-py3.11.lock.txt")
with open(REQUIREMENTS, "rb") as _handle:
    VENV = "/var/cache/fleet-pki-lab/control-venv-" + hashlib.sha256(_handle.read()).hexdigest()[:12]
DEVICE_PYTHON = "/usr/bin/python3.11"  # Debian 12, on this machine and on dev1

SCHEDULE_PLAYBOOK = """
- name: Schedule the fleet's renewal on the control node
  hosts: control
  gather_facts: false
  roles:
    - role: fleet.pki.renewal
"""


pytestmark = pytest.mark.skipif(missing_lab_tools(DEVICE_PYTHON) is not None, reason=str(missing_lab_tools(DEVICE_PYTHON)))


def on_control(command, stdin=None, timeout=300):
    return ssh(CONTROL[1], command, stdin, timeout)


def served_serial(address):
    """The serial of the certificate a device serves on 443, read by openssl on this machine."""
    proc = subprocess.run(f"openssl s_client -connect {address}:443 </dev/null 2>/dev/null | openssl x509 -noout -serial",
                          shell=True, capture_output=True, text=True, check=False, timeout=60)
    return proc.stdout.strip().split("=", 1)[-1] if proc.returncode == 0 else None


def _control_venv():
    """ansible-core and cryptography for the control node, built once and cached with the lab images."""
    complete = os.path.join(VENV, ".complete")
    if os.path.exists(complete):
        return VENV
    shutil.rmtree(VENV, ignore_errors=True)  # a build that was interrupted
    subprocess.run([DEVICE_PYTHON, "-m", "venv", VENV], check=True, capture_output=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--require-hashes", "--only-binary", ":all:",
                    "-r", REQUIREMENTS],
                   check=True, capture_output=True, timeout=900)
    with open(complete, "w", encoding="utf-8"):
        pass
    return VENV


def _tar_to_control(directory, members, destination):
    """Copy files of this machine to the control node with tar over ssh."""
    tar = subprocess.run(["tar", "-C", directory, "-c", *members], capture_output=True, check=True)
    rc, out = on_control(f"mkdir -p {destination} && tar -C {destination} -x", stdin=tar.stdout)
    assert rc == 0, out


class ControlNode:
    """The schedule's side: runs playbooks on dev1 and reads its journal; applies the role from here."""

    def __init__(self, root):
        self.root = str(root)
        self.local_inventory = os.path.join(self.root, "hosts.yml")
        self.serials = {}  # device: the serial it served when last looked at
        self.schedule_playbook = os.path.join(self.root, "schedule.yml")
        with open(self.local_inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"all": {"vars": SSH_VARS, "children": {
                "devices": {"hosts": {name: {"ansible_host": address} for name, address in DEVICES.items()}},
                "control": {"hosts": {CONTROL[0]: {"ansible_host": CONTROL[1]}}},
            }}}, handle)
        with open(self.schedule_playbook, "w", encoding="utf-8") as handle:
            handle.write(SCHEDULE_PLAYBOOK)
        # The control node's own project: its inventory, ansible.cfg and PKI directory.
        self.fleet_inventory = {"all": {
            "vars": dict(SSH_VARS, ansible_ssh_private_key_file="/root/.ssh/fleet_lab", fleet_pki_dir=f"{PROJECT}/pki",
                         fleet_pki_reload_services=["nginx"], fleet_pki_verify_port=443, fleet_pki_validity_days=1,
                         fleet_pki_renew_before="97%"),
            "children": {"devices": {"hosts": {name: {"ansible_host": address} for name, address in DEVICES.items()}}},
        }}

    def playbook_here(self, path, *args):
        return playbook(self.local_inventory, path, *args)[1]

    def schedule(self, **role_vars):
        base = {"renewal_ansible_playbook": f"{VENV}/bin/ansible-playbook", "renewal_inventory": f"{PROJECT}/inventory.yml",
                "renewal_project_dir": PROJECT}
        extra = os.path.join(self.root, "schedule-vars.json")
        with open(extra, "w", encoding="utf-8") as handle:
            json.dump(dict(base, **role_vars), handle)
        return self.playbook_here(self.schedule_playbook, "-e", "@" + extra)

    def install(self):
        _tar_to_control("/", [VENV.lstrip("/")], "/")
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.split()
        _tar_to_control(REPO, [name for name in files if os.path.exists(os.path.join(REPO, name))],
                        f"{PROJECT}/collections/ansible_collections/fleet/pki")
        with open(KEY, "rb") as handle:
            rc, out = on_control("install -d -m 0700 /root/.ssh && install -m 0600 /dev/stdin /root/.ssh/fleet_lab",
                                 stdin=handle.read())
        assert rc == 0, out
        config = (f"[defaults]\ncollections_path = {PROJECT}/collections\ninventory = inventory.yml\n"
                  "callbacks_enabled = fleet.pki.summary\nhost_key_checking = False\n"
                  "[connection]\npipelining = True\n")
        for name, content in (("ansible.cfg", config), ("inventory.yml", yaml.safe_dump(self.fleet_inventory))):
            rc, out = on_control(f"cat > {PROJECT}/{name}", stdin=content.encode())
            assert rc == 0, out

    def journal(self, *selectors):
        return on_control("journalctl --no-pager -o cat " + " ".join(selectors))[1]


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    _control_venv()
    lab("up", "3", "--suites", "bookworm", "--cryptography", "1")
    try:
        node = ControlNode(tmp_path_factory.mktemp("lab-renewal"))
        node.playbook_here(PREPARE)
        node.install()
        yield node
    finally:
        lab("down")


def test_the_control_node_provisions_short_lived_certificates(control):
    rc, output = on_control(f"cd {PROJECT} && {VENV}/bin/ansible-playbook fleet.pki.provision", timeout=600)
    assert rc == 0, output
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    for name, address in DEVICES.items():
        assert re.search(rf"^{name}\s+renewed\s+not signed by the current CA", summary, re.M), summary
        control.serials[name] = served_serial(address)
        assert control.serials[name], name
    rc, out = on_control(f"openssl x509 -in {PROJECT}/pki/hosts/dev2/cert.pem -noout -startdate -enddate")
    assert rc == 0, out  # 1 day plus the backdating hour: short-lived


def test_the_role_installs_a_systemd_timer_and_a_second_run_changes_nothing(control):
    output = control.schedule(renewal_on_calendar="*:*:0/20", renewal_randomized_delay_sec=3)
    assert recap(output)[CONTROL[0]]["changed"] > 0, output
    rc, out = on_control(f"systemctl is-enabled {UNIT}.timer && systemctl is-active {UNIT}.timer")
    assert rc == 0 and out.split() == ["enabled", "active"], out
    rc, unit = on_control(f"systemctl cat {UNIT}.service")
    assert f"ExecStart={VENV}/bin/ansible-playbook -i {PROJECT}/inventory.yml fleet.pki.renew" in unit, unit
    assert f"WorkingDirectory={PROJECT}" in unit, unit
    output = control.schedule(renewal_on_calendar="*:*:0/20", renewal_randomized_delay_sec=3)
    assert recap(output)[CONTROL[0]]["changed"] == 0, output


def test_the_timer_fires_renews_the_due_certificates_and_nginx_reloads(control):
    def renewed_everywhere():
        journal = control.journal("-u", f"{UNIT}.service")
        if "FLEET.PKI SUMMARY" not in journal:
            return None
        return all(served_serial(address) not in (None, control.serials[name]) for name, address in DEVICES.items()) and journal

    journal = wait_for("a timer run that renews both devices", renewed_everywhere, timeout=240)
    summary = journal.split("FLEET.PKI SUMMARY", 1)[1]
    for name in DEVICES:
        assert re.search(rf"^{name}\s+renewed\s+expiring: .* renew_before is 97% of the lifetime", summary, re.M), summary
    rc, out = on_control(f"systemctl show -p LastTriggerUSec --value {UNIT}.timer")
    assert rc == 0 and out.strip() not in ("", "n/a", "0"), out  # the timer started it, not a person
    control.serials = {name: served_serial(address) for name, address in DEVICES.items()}


def test_removing_the_systemd_schedule_leaves_nothing(control):
    output = control.schedule(renewal_state="absent")
    assert recap(output)[CONTROL[0]]["changed"] > 0, output
    rc, out = on_control(f"ls /etc/systemd/system/{UNIT}.service /etc/systemd/system/{UNIT}.timer")
    assert rc != 0, out
    rc, out = on_control(f"systemctl is-active {UNIT}.timer")
    assert out.strip() != "active", out
    output = control.schedule(renewal_state="absent")
    assert recap(output)[CONTROL[0]]["changed"] == 0, output


def test_cron_runs_the_renewal_where_systemd_is_not_used(control):
    since = on_control("date '+%Y-%m-%d %H:%M:%S'")[1].strip()
    output = control.schedule(renewal_scheduler="cron", renewal_cron_minute="*", renewal_cron_hour="*")
    assert recap(output)[CONTROL[0]]["changed"] > 0, output
    rc, crontab = on_control("crontab -l")
    assert rc == 0 and f"#Ansible: {UNIT}" in crontab and "fleet.pki.renew" in crontab, crontab
    before = dict(control.serials)

    def renewed_everywhere():
        journal = control.journal("-t", UNIT, "--since", f"'{since}'")
        if "FLEET.PKI SUMMARY" not in journal:
            return None
        return all(served_serial(address) not in (None, before[name]) for name, address in DEVICES.items()) and journal

    journal = wait_for("a cron run that renews both devices", renewed_everywhere, timeout=240)
    assert re.search(r"^dev2\s+renewed\s+expiring", journal.split("FLEET.PKI SUMMARY", 1)[1], re.M), journal
    control.schedule(renewal_scheduler="cron", renewal_state="absent")
    rc, crontab = on_control("crontab -l")
    assert f"#Ansible: {UNIT}" not in crontab, crontab
