# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module picks the right backend per store and refuses stores that do not fit the host's OS."""

from __future__ import annotations

import platform

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError
from ansible_collections.fleet.pki.plugins.module_utils._trust_macos import MacosKeychain
from ansible_collections.fleet.pki.plugins.modules import trust_anchor


class FakeModule:
    """Just what the store factories use of AnsibleModule."""

    def __init__(self, bins):
        self.bins = bins
        self.tmpdir = "/tmp"
        self.params = {}

    def get_bin_path(self, name, opt_dirs=None):
        return self.bins.get(name)

    def run_command(self, argv, **kwargs):
        raise AssertionError("no command may run while the backend is only being built: %r" % (argv,))


def test_every_store_name_has_a_backend():
    assert sorted(trust_anchor.BACKENDS) == sorted(trust_anchor.TRUST_STORES)


def test_macos_on_linux_fails_naming_the_system(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    with pytest.raises(TrustAnchorError, match="store macos works on macOS only; this host runs Linux"):
        trust_anchor.BACKENDS["macos"](FakeModule({"security": "/usr/bin/security"}))


def test_macos_on_a_mac_uses_the_security_tool_found(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    store = trust_anchor.BACKENDS["macos"](FakeModule({"security": "/usr/bin/security"}))
    assert isinstance(store, MacosKeychain)
    assert store.security == "/usr/bin/security"
    assert store.location("any") == "/Library/Keychains/System.keychain"


def test_macos_without_security_fails(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    with pytest.raises(TrustAnchorError, match="security tool"):
        trust_anchor.BACKENDS["macos"](FakeModule({}))


def test_system_on_a_mac_points_to_the_macos_store(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    with pytest.raises(TrustAnchorError, match="on macOS use the store macos"):
        trust_anchor.BACKENDS["system"](FakeModule({}))


def test_windows_on_a_posix_host_fails_naming_the_system(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "FreeBSD")
    with pytest.raises(TrustAnchorError, match="store windows needs a Windows host .*this host runs FreeBSD"):
        trust_anchor.BACKENDS["windows"](FakeModule({}))
