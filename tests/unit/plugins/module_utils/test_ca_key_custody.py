# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CA key file is written once, when the CA is created, and never again by anything but an explicit rollover,
which moves it (the same inode) and never copies over it or deletes it, even when it is interrupted."""

from __future__ import annotations

import dataclasses
import datetime
import os

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._artifact_batch import converge_artifacts
from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_exports import write_exports
from ansible_collections.fleet.pki.plugins.module_utils._ca_renewal import renew_ca_certificate
from ansible_collections.fleet.pki.plugins.module_utils._ca_rollover import next_settings, prepare, retire, switch
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings
from ansible_collections.fleet.pki.plugins.module_utils._revocation import revoke_and_publish

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
PASSPHRASE = "custody-passphrase"
SETTINGS = AuthoritySettings("Custody CA")


def identity(path):
    info = os.stat(path)
    with open(path, "rb") as handle:
        return handle.read(), info.st_ino, info.st_mtime_ns, info.st_ctime_ns


def find_inode(root, inode):
    """Paths under `root` whose inode is `inode`."""
    return [os.path.join(directory, name) for directory, _dirs, files in os.walk(root) for name in files
            if os.stat(os.path.join(directory, name)).st_ino == inode]


class KeyWatch:
    """Fails the test on any call that could change the file at `key_path`: open for writing, rename or replace
    onto or away from it, unlink, truncate, chmod, chown, or a temp file of the atomic writer beside it."""

    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def __init__(self, monkeypatch, key_path):
        self.key_path = os.path.realpath(key_path)
        self.touches = []
        real = {name: getattr(os, name) for name in ("open", "rename", "replace", "unlink", "remove", "truncate",
                                                     "chmod", "chown", "link", "symlink")}

        def hits(path):
            path = os.path.realpath(os.fspath(path)) if isinstance(path, (str, bytes, os.PathLike)) else ""
            base = os.path.basename(self.key_path)
            return path == self.key_path or (os.path.dirname(path) == os.path.dirname(self.key_path)
                                             and os.path.basename(path).startswith(f".{base}."))

        def guard(name, *paths):
            if any(hits(path) for path in paths):
                self.touches.append((name, [os.fspath(path) for path in paths]))

        def wrapped_open(path, flags, *args, **kwargs):
            if flags & self.WRITE_FLAGS:
                guard("open", path)
            return real["open"](path, flags, *args, **kwargs)

        def two_paths(name):
            def wrapped(src, dst, *args, **kwargs):
                guard(name, src, dst)
                return real[name](src, dst, *args, **kwargs)
            return wrapped

        def one_path(name):
            def wrapped(path, *args, **kwargs):
                guard(name, path)
                return real[name](path, *args, **kwargs)
            return wrapped

        monkeypatch.setattr(os, "open", wrapped_open)
        for name in ("rename", "replace", "link", "symlink"):
            monkeypatch.setattr(os, name, two_paths(name))
        for name in ("unlink", "remove", "truncate", "chmod", "chown"):
            monkeypatch.setattr(os, name, one_path(name))


@pytest.fixture
def ca(tmp_path):
    pki_dir = str(tmp_path / "pki")
    authority, changed, _notes = ensure_authority(pki_dir, SETTINGS, PASSPHRASE, now=NOW)
    assert changed
    return authority


OTHER_SETTINGS = [
    dataclasses.replace(SETTINGS, key_type="ec-p384"),
    dataclasses.replace(SETTINGS, key_type="rsa-2048"),
    dataclasses.replace(SETTINGS, common_name="Another CA", organization="Another Org"),
    dataclasses.replace(SETTINGS, validity_days=7300),
    dataclasses.replace(SETTINGS, permitted_ip_networks=("10.0.0.0/8",), permitted_dns_domains=("fleet.example",)),
]


def test_nothing_but_a_rollover_touches_the_ca_key(monkeypatch, ca):
    pki_dir = ca.pki_dir
    before = identity(ca.key_path)
    watch = KeyWatch(monkeypatch, ca.key_path)

    for settings in OTHER_SETTINGS:  # every CA option changed: reported as drift, never acted on
        _authority, changed, notes = ensure_authority(pki_dir, settings, PASSPHRASE, now=NOW)
        assert not changed
        if settings.validity_days == SETTINGS.validity_days:  # a validity only applies to new certificates
            assert "a CA key is never regenerated implicitly" in notes[-1]
        ensure_authority(pki_dir, settings, PASSPHRASE, check_mode=True, now=NOW)
    for passphrase, message in ((None, "is encrypted"), ("wrong", "passphrase is wrong")):  # removed, wrong
        with pytest.raises(FleetPkiError, match=message):
            ensure_authority(pki_dir, SETTINGS, passphrase, now=NOW)
    write_exports(pki_dir, ca.certificate, ca.label)
    jobs = [(host_settings("fw1", ansible_host="10.77.0.1", delivery="artifacts"), {})]
    converge_artifacts(ca, jobs, NOW, lambda: ca.private_key(PASSPHRASE), batch=True)
    revoke_and_publish(pki_dir, hosts=["fw1"], passphrase=PASSPHRASE, now=NOW)
    renewed = renew_ca_certificate(ca, PASSPHRASE, 3650, NOW + datetime.timedelta(days=1))
    prepare(pki_dir, next_settings(renewed, NOW), PASSPHRASE, now=NOW)  # the next CA, beside the current one

    assert watch.touches == []
    assert identity(ca.key_path) == before


def test_a_plain_key_is_not_encrypted_behind_anyones_back(tmp_path):
    pki_dir = str(tmp_path / "pki")
    authority, _changed, _notes = ensure_authority(pki_dir, SETTINGS, now=NOW)
    before = identity(authority.key_path)
    with pytest.raises(FleetPkiError, match="is not encrypted, but a passphrase was given"):
        ensure_authority(pki_dir, SETTINGS, PASSPHRASE, now=NOW)
    assert identity(authority.key_path) == before


def test_the_watch_sees_a_rewrite(monkeypatch, ca):
    """The check can fail: an atomic rewrite of ca.key (temp file beside it, then replace) is caught."""
    watch = KeyWatch(monkeypatch, ca.key_path)
    write_file_atomic(ca.key_path, open(ca.key_path, "rb").read(), mode=0o600)
    assert [name for name, _paths in watch.touches] == ["open", "replace"]


@pytest.mark.parametrize("passphrase, message", [(None, "is encrypted: set the CA passphrase"),
                                                 ("wrong", "the CA passphrase is wrong")])
def test_a_rollover_without_the_right_passphrase_makes_no_new_key(ca, passphrase, message):
    """The new key gets the protection of the current one: no unencrypted next CA because the passphrase was missing."""
    with pytest.raises(FleetPkiError, match=message):
        prepare(ca.pki_dir, next_settings(ca, NOW), passphrase, now=NOW)
    assert not os.path.exists(os.path.join(ca.pki_dir, "next"))
    new, changed = prepare(ca.pki_dir, next_settings(ca, NOW), PASSPHRASE, now=NOW)
    assert changed and open(new.key_path, "rb").read().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


class Crash(BaseException):
    """The process dies here: nothing after it runs, no handler cleans up."""


def crash_on_rename(monkeypatch, number):
    """Make the `number`th os.rename (1-based) crash before it happens."""
    real, calls = os.rename, []

    def wrapped(src, dst, *args, **kwargs):
        calls.append((src, dst))
        if len(calls) == number:
            raise Crash(f"crash before renaming {src} to {dst}")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", wrapped)
    return calls


@pytest.mark.parametrize("step, number", [("switch", 1), ("switch", 2), ("retire", 1)])
def test_an_interrupted_rollover_keeps_both_keys_and_finishes_when_run_again(monkeypatch, ca, step, number):
    pki_dir = ca.pki_dir
    old = identity(ca.key_path)
    new, _changed = prepare(pki_dir, next_settings(ca, NOW), PASSPHRASE, now=NOW)
    new_key = identity(new.key_path)
    if step == "retire":
        switch(pki_dir)
    with monkeypatch.context() as patch:
        calls = crash_on_rename(patch, number)
        with pytest.raises(Crash):
            (switch if step == "switch" else retire)(pki_dir)
        assert len(calls) == number
    for key in (old, new_key):  # both keys are in the PKI directory, unchanged, whatever the crash left
        paths = find_inode(pki_dir, key[1])
        assert len(paths) == 1 and identity(paths[0]) == key

    if step == "switch":
        assert switch(pki_dir) is True
    else:
        assert retire(pki_dir)[1] is True
    assert identity(os.path.join(pki_dir, "ca", "ca.key")) == new_key
    kept = find_inode(pki_dir, old[1])
    assert len(kept) == 1 and identity(kept[0]) == old
    assert os.path.relpath(kept[0], pki_dir).split(os.sep)[0] == ("previous" if step == "switch" else "retired")


def test_a_ca_created_during_an_interrupted_switch_stops_the_switch_and_nothing_moves(ca, tmp_path):
    """A crash between switch's renames leaves no ca/; a CA made there meanwhile (by hand, or by a provision run)
    must not make the next switch move any of the three keys, and the error says what happened."""
    pki_dir = ca.pki_dir
    prepare(pki_dir, next_settings(ca, NOW), PASSPHRASE, now=NOW)
    os.makedirs(os.path.join(pki_dir, "previous"))
    os.rename(os.path.join(pki_dir, "ca"), os.path.join(pki_dir, "previous", "ca"))  # the crash came here
    ensure_authority(str(tmp_path / "stray"), SETTINGS, PASSPHRASE, now=NOW)
    os.rename(str(tmp_path / "stray" / "ca"), os.path.join(pki_dir, "ca"))  # a third CA in ca/
    keys = {name: identity(os.path.join(pki_dir, *name.split("/"), "ca.key")) for name in ("ca", "next/ca", "previous/ca")}
    for check_mode in (True, False):
        with pytest.raises(FleetPkiError, match="a switch was interrupted .* move it out of the PKI directory"):
            switch(pki_dir, check_mode=check_mode)
    assert {name: identity(os.path.join(pki_dir, *name.split("/"), "ca.key")) for name in keys} == keys
