# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures: a real CA in a temporary PKI directory, and a fixed clock."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def pki_dir(tmp_path):
    return str(tmp_path / "pki")


@pytest.fixture
def authority(pki_dir):
    ca, changed, _notes = ensure_authority(pki_dir, AuthoritySettings(common_name="Test Fleet CA"), now=NOW)
    assert changed
    return ca


@pytest.fixture
def constrained_authority(tmp_path):
    settings = AuthoritySettings(common_name="Constrained CA", permitted_ip_networks=("10.20.0.0/16",),
                                 permitted_dns_domains=("fleet.example",))
    ca, _changed, _notes = ensure_authority(str(tmp_path / "cpki"), settings, now=NOW)
    return ca
