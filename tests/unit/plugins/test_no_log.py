# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every option that carries a secret is no_log, in every plugin and role of the collection.

Argument specs are read from the source (ast), so a module whose spec is built inside main() is covered as
well as an action plugin's ARGUMENT_SPEC, nested suboptions included. Role options come from
meta/argument_specs.yml.
"""

from __future__ import annotations

import ast
import glob
import importlib
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLUGIN_FILES = sorted(glob.glob(os.path.join(ROOT, "plugins", "action", "*.py"))
                      + glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
ROLE_SPECS = sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))

# Names that carry a secret: a passphrase, a password, a token or secret, or the content of a private key.
SECRET_OPTION = re.compile(r"(passphrase|password|passwd|secret|token|private_key_content|key_content)$|^content$")
# Options the scan must find, so that a broken scan cannot pass by finding nothing.
KNOWN_SECRETS = {
    ("action/authority.py", "passphrase"), ("action/certificate.py", "ca_passphrase"),
    ("action/artifacts.py", "ca_passphrase"), ("action/revocation.py", "ca_passphrase"),
    ("action/ca_rollover.py", "passphrase"), ("action/trust_anchor.py", "java_keystore_password"),
    ("modules/certificate_files.py", "key_content"), ("modules/certificate_info.py", "passphrase"),
    ("modules/certificate_info.py", "private_key_content"), ("modules/trust_anchor.py", "java_keystore_password"),
}


def _is_dict_call(node):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"


def _option_specs(tree):
    """(option name, its spec keywords as {name: ast node}) for every dict(name=dict(type=...)) in the source."""
    for node in ast.walk(tree):
        if not _is_dict_call(node):
            continue
        for keyword in node.keywords:
            if keyword.arg and _is_dict_call(keyword.value):
                spec = {inner.arg: inner.value for inner in keyword.value.keywords if inner.arg}
                if "type" in spec:
                    yield keyword.arg, spec
    for node in ast.walk(tree):  # the literal form too: {"name": {"type": ...}}
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str) and isinstance(value, ast.Dict):
                    spec = {k.value: v for k, v in zip(value.keys, value.values) if isinstance(k, ast.Constant)}
                    if "type" in spec:
                        yield key.value, spec


def plugin_options():
    """[(file relative to plugins/, option, no_log value or None)] for every option of every action and module."""
    found = []
    for path in PLUGIN_FILES:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        relative = os.path.relpath(path, os.path.join(ROOT, "plugins"))
        for name, spec in _option_specs(tree):
            no_log = spec.get("no_log")
            found.append((relative, name, no_log.value if isinstance(no_log, ast.Constant) else no_log))
    return found


def role_options():
    """[(role, option, no_log)] from every role's meta/argument_specs.yml, suboptions included."""
    found = []

    def walk(role, options):
        for name, spec in (options or {}).items():
            found.append((role, name, (spec or {}).get("no_log")))
            walk(role, (spec or {}).get("options"))

    for path in ROLE_SPECS:
        role = os.path.basename(os.path.dirname(os.path.dirname(path)))
        with open(path, encoding="utf-8") as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        for entry in specs.values():
            walk(role, entry.get("options"))
    return found


def test_the_scan_finds_the_known_secret_options():
    secrets = {(where, name) for where, name, _no_log in plugin_options() if SECRET_OPTION.search(name)}
    assert KNOWN_SECRETS <= secrets, sorted(KNOWN_SECRETS - secrets)


@pytest.mark.parametrize("where, name, no_log", [option for option in plugin_options() if SECRET_OPTION.search(option[1])],
                         ids=str)
def test_every_secret_plugin_option_is_no_log(where, name, no_log):
    assert no_log is True, f"plugins/{where}: option '{name}' carries a secret and needs no_log=True"


@pytest.mark.parametrize("role, name, no_log", [option for option in role_options() if SECRET_OPTION.search(option[1])],
                         ids=str)
def test_every_secret_role_option_is_no_log(role, name, no_log):
    assert no_log is True, f"roles/{role}/meta/argument_specs.yml: option '{name}' carries a secret and needs no_log: true"


def test_action_plugins_mark_their_secrets_in_the_spec_they_validate():
    """The spec objects themselves (not only their source): what validate_argument_spec gets at run time."""
    checked = 0
    for path in glob.glob(os.path.join(ROOT, "plugins", "action", "*.py")):
        name = os.path.splitext(os.path.basename(path))[0]
        plugin = importlib.import_module(f"ansible_collections.fleet.pki.plugins.action.{name}")
        spec = getattr(plugin, "ARGUMENT_SPEC", None) or getattr(getattr(plugin, "ActionModule", None), "ARGUMENT_SPEC", {})

        def walk(options, trail):
            nonlocal checked
            for option, settings in options.items():
                if SECRET_OPTION.search(option):
                    checked += 1
                    assert settings.get("no_log") is True, f"{trail}{option}"
                walk(settings.get("options") or {}, f"{trail}{option}.")

        walk(spec, f"plugins/action/{name}.py: ")
    assert checked >= 6


def test_a_secret_option_without_no_log_is_caught():
    """The scan can fail: an option named like a secret without no_log is reported."""
    tree = ast.parse("spec = dict(api_token=dict(type='str'), password=dict(type='str', no_log=True))")
    specs = {name: spec.get("no_log") for name, spec in _option_specs(tree)}
    assert SECRET_OPTION.search("api_token") and specs["api_token"] is None
    assert specs["password"].value is True
