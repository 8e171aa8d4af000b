# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A throw-away fleet on loopback addresses, provisioned with the real ansible-playbook of this venv."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.join(REPO, "demo"))


class Fleet:
    """An inventory of devices (127.0.0.2x, delivered into <state>/devices/<name>) and one bundle client."""

    def __init__(self, root, devices):
        self.root = str(root)
        self.state = os.path.join(self.root, "state")
        self.inventory = os.path.join(self.root, "inventory", "hosts.yml")
        self.devices = dict(devices)
        self.host_vars = {name: {} for name in self.devices}
        self.group_vars = {}
        self.write()

    @property
    def pki_dir(self):
        return os.path.join(self.state, "pki")

    @property
    def bundle(self):
        return os.path.join(self.state, "clients", "laptop", "ca-bundle.pem")

    def device_file(self, name, role):
        return os.path.join(self.state, "devices", name, f"{role}.pem")

    def write(self):
        hosts = {name: dict(ansible_host=address, **self.host_vars.get(name, {})) for name, address in self.devices.items()}
        inventory = {"all": {
            "vars": dict({
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "fleet_pki_dir": self.pki_dir,
                "fleet_pki_dest": self.state + "/devices/{{ inventory_hostname }}",
            }, **self.group_vars),
            "children": {
                "devices": {"hosts": hosts},
                "clients": {"hosts": {"laptop": {"fleet_pki_trust_stores": ["bundle"],
                                                 "fleet_pki_bundle_path": self.bundle}}},
            },
        }}
        os.makedirs(os.path.dirname(self.inventory), exist_ok=True)
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle)

    def playbook(self, *args, playbook="playbooks/provision.yml", check=True, env=None, wrap=()):
        """Run ansible-playbook from the repository root; return (returncode, output)."""
        environment = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                           ANSIBLE_FORCE_COLOR="0", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        environment.update(env or {})
        command = [*wrap, os.path.join(BIN, "ansible-playbook"), "-i", self.inventory, playbook, *args]
        result = subprocess.run(command,
                                cwd=REPO, env=environment, capture_output=True, text=True, check=False)
        output = result.stdout + result.stderr
        if check and result.returncode != 0:
            raise AssertionError(f"ansible-playbook failed ({result.returncode}):\n{output}")
        return result.returncode, output


def recap(output):
    """{host: {'ok': n, 'changed': n, 'failed': n, ...}} from the PLAY RECAP."""
    hosts = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match:
            hosts[match.group(1)] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return hosts


@pytest.fixture
def fleet(tmp_path):
    return Fleet(tmp_path, {f"dev{n}": f"127.0.0.{20 + n}" for n in range(1, 6)})
