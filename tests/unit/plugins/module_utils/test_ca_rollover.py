# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._ca_rollover import (
    next_settings,
    prepare,
    retire,
    rollover_state,
    switch,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import constraints_of


def _files(pki_dir):
    return sorted(os.path.relpath(os.path.join(root, name), pki_dir)
                  for root, _dirs, names in os.walk(pki_dir) for name in names if not name.startswith("."))


def test_next_settings_take_a_new_name_and_keep_type_and_constraints(constrained_authority, now):
    settings = next_settings(constrained_authority, now)
    assert settings.common_name == "Constrained CA 2026-11"
    assert settings.key_type == "ec-p256"
    assert settings.permitted_ip_networks == ("10.20.0.0/16",) and settings.permitted_dns_domains == ("fleet.example",)
    with pytest.raises(FleetPkiError, match="common name other than the current one"):
        next_settings(constrained_authority, now, common_name_="Constrained CA")


def test_the_three_steps_move_the_cas_and_keep_every_key(constrained_authority, now):
    pki_dir = constrained_authority.pki_dir
    old = constrained_authority.certificate
    new, changed = prepare(pki_dir, next_settings(constrained_authority, now), now=now)
    assert changed and new.certificate.public_key() != old.public_key()
    assert constraints_of(new.certificate) == constraints_of(old)
    again, changed = prepare(pki_dir, next_settings(constrained_authority, now), now=now)
    assert not changed and again.certificate == new.certificate

    assert switch(pki_dir) is True
    state = rollover_state(pki_dir)
    assert state["current"].certificate == new.certificate and state["previous"].certificate == old and state["next"] is None
    assert switch(pki_dir) is False  # done already

    label, changed = retire(pki_dir)
    assert changed and label == constrained_authority.label
    assert rollover_state(pki_dir)["previous"] is None
    assert os.path.isfile(os.path.join(pki_dir, "retired", label, "ca", "ca.key"))  # moved, never deleted
    assert retire(pki_dir) == (None, False)


def test_steps_out_of_order_are_refused_with_the_step_to_take(authority, now):
    pki_dir = authority.pki_dir
    with pytest.raises(FleetPkiError, match="run the step prepare first"):
        switch(pki_dir)
    prepare(pki_dir, next_settings(authority, now), now=now)
    switch(pki_dir)
    with pytest.raises(FleetPkiError, match="finish it with the step retire first"):
        prepare(pki_dir, next_settings(authority, now, common_name_="Third CA"), now=now)


def test_check_mode_changes_no_file(authority, now):
    pki_dir = authority.pki_dir
    before = _files(pki_dir)
    assert prepare(pki_dir, next_settings(authority, now), check_mode=True, now=now) == (None, True)
    assert _files(pki_dir) == before
    prepare(pki_dir, next_settings(authority, now), now=now)
    before = _files(pki_dir)
    assert switch(pki_dir, check_mode=True) is True and _files(pki_dir) == before
    switch(pki_dir)
    before = _files(pki_dir)
    assert retire(pki_dir, check_mode=True) == (authority.label, True) and _files(pki_dir) == before


def test_a_switch_interrupted_between_its_two_renames_finishes_on_the_next_run(authority, now):
    pki_dir = authority.pki_dir
    new, _changed = prepare(pki_dir, next_settings(authority, now), now=now)
    os.makedirs(os.path.join(pki_dir, "previous"))
    os.rename(os.path.join(pki_dir, "ca"), os.path.join(pki_dir, "previous", "ca"))  # the crash came here
    assert switch(pki_dir) is True
    state = rollover_state(pki_dir)
    assert state["current"].certificate == new.certificate and state["previous"].certificate == authority.certificate


def test_prepare_without_a_ca_fails_naming_the_directory(tmp_path, authority, now):
    with pytest.raises(FleetPkiError, match="there is no CA in .*empty"):
        prepare(str(tmp_path / "empty"), next_settings(authority, now), now=now)
