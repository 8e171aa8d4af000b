# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The windows store of fleet.pki.trust_anchor, tested by simulation: there is no Windows here.

The real action plugin runs over Ansible's real PowerShell shell plugin. Only its boundary with the
host is recorded: the temp directory, the file transfer, and the module run, whose answer is what
ansible.windows.win_certificate_store returns.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import shell_loader
from ansible.template import Templar

from ansible_collections.fleet.pki.plugins.action.trust_anchor import ActionModule
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import sha256_hex, single_certificate_der
from ansible_collections.fleet.pki.plugins.module_utils._trust_windows import windows_module_args

TMP = "C:\\Users\\admin\\AppData\\Local\\Temp\\ansible-tmp-1"


class Recorder:
    """The host side: what the plugin sends, and win_certificate_store's answer."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def plugin(self, args, check_mode=False, diff=False, resolved=True, shell="powershell"):
        task = SimpleNamespace(args=args, async_val=0, check_mode=check_mode, diff=diff, action="fleet.pki.trust_anchor")
        connection = SimpleNamespace(_shell=shell_loader.get(shell))
        finder = SimpleNamespace(find_plugin_with_context=lambda name: SimpleNamespace(resolved=resolved))
        loader = DataLoader()
        plugin = ActionModule(task, connection, None, loader, Templar(loader=loader))
        plugin._shared_loader_obj = SimpleNamespace(module_loader=finder)  # is ansible.windows installed?
        plugin._make_tmp_path = self._make_tmp_path
        plugin._transfer_data = self._transfer_data
        plugin._execute_module = self._execute_module
        plugin._remove_tmp_path = lambda path: self.calls.append(("remove", path))
        self.connection = connection
        return plugin

    def _make_tmp_path(self):
        self.connection._shell.tmpdir = TMP
        self.calls.append(("mktemp",))
        return TMP

    def _transfer_data(self, path, data):
        self.calls.append(("transfer", path, data))
        return path

    def _execute_module(self, module_name=None, module_args=None, task_vars=None):
        self.calls.append(("module", module_name, module_args))
        return dict(self.answer)


@pytest.fixture
def ca(authority):
    with open(authority.cert_path, "rb") as handle:
        pem = handle.read()
    der = single_certificate_der(pem)
    return dict(pem=pem.decode(), der=der, thumbprint=hashlib.sha1(der).hexdigest().upper(), sha256=sha256_hex(der))


def run(recorder, args, **options):
    return recorder.plugin(args, **options).run(task_vars=dict(inventory_hostname="ops-win-03"))


def test_present_copies_the_der_and_runs_win_certificate_store_once(ca):
    recorder = Recorder(dict(changed=True, thumbprints=[ca["thumbprint"]]))
    result = run(recorder, dict(certificate=ca["pem"]))
    path = TMP + "\\fleet-pki-ca.der.crt"
    assert recorder.calls == [
        ("mktemp",),
        ("transfer", path, ca["der"]),
        ("module", "ansible.windows.win_certificate_store",
         dict(state="present", path=path, store_name="Root", store_location="LocalMachine")),
        ("remove", TMP),
    ]
    assert result["changed"] and result["stores"] == {
        "windows": dict(changed=True, path="Cert:\\LocalMachine\\Root\\" + ca["thumbprint"])}
    assert result["label"].startswith("Test_Fleet_CA-") and result["sha256"] == ca["sha256"]


def test_a_second_run_reports_no_change_and_the_diff_says_present_before_and_after(ca):
    recorder = Recorder(dict(changed=False, thumbprints=[]))
    result = run(recorder, dict(certificate=ca["pem"], stores=["windows"]), diff=True)
    assert not result["changed"] and not result["stores"]["windows"]["changed"]
    present = "present: %s (sha256 %s)\n" % (result["label"], ca["sha256"])
    assert result["diff"] == [dict(before=present, after=present,
                                   before_header="windows: Cert:\\LocalMachine\\Root\\" + ca["thumbprint"],
                                   after_header="windows: Cert:\\LocalMachine\\Root\\" + ca["thumbprint"])]


def test_absent_removes_by_thumbprint_and_sends_no_file(ca):
    recorder = Recorder(dict(changed=True, thumbprints=[ca["thumbprint"]]))
    result = run(recorder, dict(certificate=ca["pem"], state="absent"), diff=True)
    assert [call[0] for call in recorder.calls] == ["module", "remove"]
    assert recorder.calls[0][2] == dict(state="absent", thumbprint=ca["thumbprint"], store_name="Root",
                                        store_location="LocalMachine")
    assert result["changed"]
    assert result["diff"][0]["before"].startswith("present: ") and result["diff"][0]["after"] == "absent\n"


def test_check_mode_runs_the_module_once_and_the_diff_comes_from_its_answer(ca):
    # _execute_module sends the task's check mode along; win_certificate_store then only reports.
    recorder = Recorder(dict(changed=True))
    result = run(recorder, dict(certificate=ca["pem"]), check_mode=True, diff=True)
    assert [call[0] for call in recorder.calls] == ["mktemp", "transfer", "module", "remove"]
    assert result["changed"] and result["diff"][0]["before"] == "absent\n"


def test_a_failure_of_the_module_names_the_host_and_the_module(ca):
    recorder = Recorder(dict(failed=True, msg="Access is denied"))
    with pytest.raises(AnsibleActionFail) as error:
        run(recorder, dict(certificate=ca["pem"]))
    assert str(error.value).startswith("fleet.pki.trust_anchor on host ops-win-03: ")
    assert "ansible.windows.win_certificate_store failed: Access is denied" in str(error.value)
    assert ("remove", TMP) in recorder.calls  # the CA file does not stay behind


@pytest.mark.parametrize("stores, wrong", [(["system"], "system"), (["windows", "nss"], "nss")])
def test_linux_stores_on_a_windows_host_are_refused_before_anything_is_sent(ca, stores, wrong):
    recorder = Recorder(dict(changed=True))
    with pytest.raises(AnsibleActionFail) as error:
        run(recorder, dict(certificate=ca["pem"], stores=stores))
    assert "this is a Windows host (a PowerShell connection), where only the store windows applies, not " + wrong \
        in str(error.value)
    assert recorder.calls == []


def test_without_ansible_windows_the_error_says_how_to_install_it(ca):
    recorder = Recorder(dict(changed=True))
    with pytest.raises(AnsibleActionFail) as error:
        recorder.plugin(dict(certificate=ca["pem"]), resolved=False).run(task_vars=dict(inventory_hostname="w1"))
    assert "the collection ansible.windows is not installed" in str(error.value)
    assert "ansible-galaxy collection install ansible.windows" in str(error.value)
    assert recorder.calls == []


def test_a_certificate_that_is_not_one_is_refused_before_anything_is_sent(ca):
    recorder = Recorder(dict(changed=True))
    with pytest.raises(AnsibleActionFail) as error:
        run(recorder, dict(certificate="not a certificate"))
    assert "on host ops-win-03: certificate: " in str(error.value)
    assert recorder.calls == []


def test_module_args_refuse_present_without_a_file():
    with pytest.raises(ValueError):
        windows_module_args("present", b"der")
