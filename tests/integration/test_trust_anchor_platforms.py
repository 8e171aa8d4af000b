# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stores for other operating systems, asked for on the wrong host, fail clearly through real ansible runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import throwaway_pki
from trust_namespace import BIN, REPO, client_env, collections_farm, run_trust_anchor

# The trust_anchor task alone runs over a PowerShell shell; saving the result runs over sh again.
WINDOWS_PLAYBOOK = """
- name: Trust anchor on a host with a PowerShell shell
  hosts: all
  gather_facts: false
  tasks:
    - name: Trust anchor
      fleet.pki.trust_anchor:
        src: "{{ ca }}"
        stores: "{{ stores }}"
      vars:
        ansible_shell_type: powershell
      register: ta_result
      ignore_errors: true

    - name: Save the result
      ansible.builtin.copy:
        content: "{{ ta_result | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    pytest.importorskip("cryptography")
    directory = str(tmp_path_factory.mktemp("platforms"))
    pki = throwaway_pki.make_pki(directory)
    return dict(directory=directory, ca=pki["ca"], collections=collections_farm(directory))


def _run(work, module_args, *flags):
    return run_trust_anchor(work["directory"], work["collections"], sys.executable, module_args, *flags)


def test_macos_on_this_linux_host_fails_naming_the_system(work):
    result = _run(work, dict(src=work["ca"], stores=["macos"]))
    assert result["failed"] and result["changed"] is False, result
    assert "store macos works on macOS only; this host runs Linux" in result["msg"], result


def test_windows_on_this_linux_host_fails_naming_the_system(work):
    result = _run(work, dict(src=work["ca"], stores=["windows"]), "--check")
    assert result["failed"], result
    assert "store windows needs a Windows host" in result["msg"] and "Linux" in result["msg"], result


@pytest.mark.parametrize("stores, expected", [
    (["windows"], "the store windows runs ansible.windows.win_certificate_store, but the collection ansible.windows is "
                  "not installed on the controller (ansible-galaxy collection install ansible.windows"),
    (["system"], "this is a Windows host (a PowerShell connection), where only the store windows applies, not system"),
])
def test_a_windows_host_fails_before_anything_is_sent(work, stores, expected):
    # The action plugin must stop before it sends anything: with a PowerShell shell on this Linux
    # host, any module transfer would fail with "PowerShell: not found" instead.
    playbook = os.path.join(work["directory"], "windows.yml")
    out = os.path.join(work["directory"], "windows-result.json")
    with open(playbook, "w") as f:
        f.write(WINDOWS_PLAYBOOK)
    env = dict(client_env(), ANSIBLE_COLLECTIONS_PATH=work["collections"], ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "ca=%s" % work["ca"],
                           "-e", "out=%s" % out, "-e", json.dumps(dict(stores=stores)), playbook],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as f:
        result = json.load(f)
    assert result["failed"] and not result.get("changed"), result
    assert result["msg"].startswith("fleet.pki.trust_anchor on host localhost: "), result
    assert expected in result["msg"], result
