# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every lab test needs: the lab tool, SSH to lab machines, and ansible-playbook with this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conftest import REPO

LAB = os.path.join(REPO, "tests", "lab", "lab.py")
# The factory state of a device: nginx on 443 with a self-signed certificate in /etc/fleet-pki.
PREPARE = os.path.join(REPO, "extensions", "molecule", "fleet", "prepare.yml")
KEY = os.path.join(os.environ.get("FLEET_PKI_LAB_STATE", "/run/fleet-pki-lab"), "id_ed25519")
SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR"]
# Inventory variables that reach a lab machine as root over SSH.
SSH_VARS = {"ansible_user": "root", "ansible_ssh_private_key_file": KEY,
            "ansible_ssh_common_args": " ".join(SSH_OPTIONS), "ansible_python_interpreter": "/usr/bin/python3"}


def lab(*args):
    """Run tests/lab/lab.py (up, down, readdress, ...); raises when it fails."""
    return subprocess.run([sys.executable, LAB, *args], capture_output=True, text=True, check=True, timeout=1800)


def missing_lab_tools(*extra):
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root"
    missing = [tool for tool in ("systemd-nspawn", "mmdebstrap", "ip", *extra) if shutil.which(tool) is None]
    return f"tools missing: {', '.join(missing)}" if missing else None


def ssh(address, command, stdin=None, timeout=300):
    """Run a shell command on a lab machine as root; return (rc, stdout + stderr). stdin: str or bytes."""
    binary = isinstance(stdin, bytes)
    result = subprocess.run(["ssh", "-i", KEY, *SSH_OPTIONS, f"root@{address}", command], input=stdin,
                            capture_output=True, text=not binary, check=False, timeout=timeout)
    output = result.stdout + result.stderr
    return result.returncode, output.decode("utf-8", "replace") if binary else output


def playbook(inventory, path, *args, check=True):
    """ansible-playbook with the collection's ansible.cfg (this checkout); returns (rc, output)."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, path, *args]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=900)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError(f"{path} {' '.join(args)} failed ({result.returncode}):\n{output}")
    return result.returncode, output
