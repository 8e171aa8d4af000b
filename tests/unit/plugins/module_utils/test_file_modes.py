# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Secret files are 0600 and PKI directories 0700 from the moment they exist, with umask 0.

Every call that creates a file or directory, sets a mode, writes bytes or renames something into place is
wrapped, and the mode of the path is recorded at that moment (for a temp file, under the name it will get).
A secret that was ever group- or world-readable, even between a create and a chmod, shows up here.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import stat
import tempfile

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._artifact_batch import converge_artifacts
from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_exports import write_exports
from ansible_collections.fleet.pki.plugins.module_utils._ca_renewal import renew_ca_certificate
from ansible_collections.fleet.pki.plugins.module_utils._ca_rollover import next_settings, prepare, retire, switch
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._crypto import x509
from ansible_collections.fleet.pki.plugins.module_utils._device_files import ROLES, FileSpec, converge
from ansible_collections.fleet.pki.plugins.module_utils._device_keys import activate_pending_key, csr_for, new_pending_key
from ansible_collections.fleet.pki.plugins.module_utils._host_artifacts import artifact_specs, host_directory
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key, private_key_pem
from ansible_collections.fleet.pki.plugins.module_utils._revocation import revoke_and_publish

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
PASSPHRASE = "mode-test-passphrase"
EXPORT_KNOBS = {"artifact_formats": ["pem", "der", "der_inc", "pkcs12", "c_header"], "pkcs12_password": "p12-secret",
                "c_source": True}

# Files that hold a private key (or guard the PKI directory): never readable by anyone but the owner. A C export
# holds the key in the header, or in the source file when one is asked for: the tests name those themselves.
SECRET_NAME = re.compile(r"^(ca\.key|key\.pem|key\.der|key\.der\.inc|\.lock|.*\.p12|.*\.pending)$")
# Temp files of the atomic writer: .<final name>.<pid>.<random>.tmp beside the final file.
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[0-9]+\.[a-z0-9_]{8}\.tmp$")


@dataclasses.dataclass
class Event:
    what: str  # the call: mkstemp, open, mkdir, write, fchmod, chmod, rename
    path: str  # the final path (a temp file is recorded under the name it is renamed to)
    mode: int
    is_dir: bool


def final_path(path):
    match = TEMP_NAME.match(os.path.basename(path))
    return os.path.join(os.path.dirname(path), match.group("name")) if match else path


class ModeRecorder:
    """Wraps the file system calls the collection uses and records the mode of each path they touch."""

    def __init__(self, monkeypatch, root):
        self.root = os.path.realpath(str(root))
        self.events = []
        self.secret_names = set()  # more base names that hold a key (C exports)
        self._patch(monkeypatch)

    def _record(self, what, path, info):
        path = os.path.realpath(path)
        if path == self.root or path.startswith(self.root + os.sep):
            self.events.append(Event(what, final_path(path), stat.S_IMODE(info.st_mode), stat.S_ISDIR(info.st_mode)))

    def _record_fd(self, what, fd):
        try:
            self._record(what, os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd))
        except OSError:
            pass

    def _patch(self, monkeypatch):
        real = {name: getattr(os, name) for name in ("open", "mkdir", "write", "fchmod", "chmod", "rename", "replace",
                                                     "fchown", "chown")}
        real_mkstemp = tempfile.mkstemp

        def wrapped_open(path, flags, *args, **kwargs):
            fd = real["open"](path, flags, *args, **kwargs)
            if flags & os.O_CREAT:
                self._record_fd("open", fd)
            return fd

        def wrapped_mkstemp(*args, **kwargs):
            fd, path = real_mkstemp(*args, **kwargs)
            self._record_fd("mkstemp", fd)
            return fd, path

        def wrapped_mkdir(path, *args, **kwargs):
            real["mkdir"](path, *args, **kwargs)
            self._record("mkdir", path, os.stat(path))

        def wrapped_write(fd, data):
            self._record_fd("write", fd)  # the mode the bytes land under
            return real["write"](fd, data)

        def wrapped_fchmod(fd, mode):
            real["fchmod"](fd, mode)
            self._record_fd("fchmod", fd)

        def wrapped_fchown(fd, *args):
            real["fchown"](fd, *args)
            self._record_fd("fchown", fd)

        def wrapped_chmod(path, mode, *args, **kwargs):
            real["chmod"](path, mode, *args, **kwargs)
            self._record("chmod", path, os.stat(path))

        def wrapped_chown(path, *args, **kwargs):
            real["chown"](path, *args, **kwargs)
            self._record("chown", path, os.stat(path))

        def renamer(name):
            def wrapped(src, dst, *args, **kwargs):
                info = os.stat(src)
                real[name](src, dst, *args, **kwargs)
                # What appears under the final name has the mode the source had: record it under that name.
                self._record(name, dst, info)
                self._record(name, dst, os.stat(dst))
            return wrapped

        monkeypatch.setattr(os, "open", wrapped_open)
        monkeypatch.setattr(tempfile, "mkstemp", wrapped_mkstemp)
        monkeypatch.setattr(os, "mkdir", wrapped_mkdir)
        monkeypatch.setattr(os, "write", wrapped_write)
        monkeypatch.setattr(os, "fchmod", wrapped_fchmod)
        monkeypatch.setattr(os, "fchown", wrapped_fchown)
        monkeypatch.setattr(os, "chmod", wrapped_chmod)
        monkeypatch.setattr(os, "chown", wrapped_chown)
        monkeypatch.setattr(os, "rename", renamer("rename"))
        monkeypatch.setattr(os, "replace", renamer("replace"))

    def of(self, predicate):
        return [event for event in self.events if predicate(event)]

    def is_secret(self, path):
        name = os.path.basename(path)
        return bool(SECRET_NAME.match(name)) or name in self.secret_names

    def assert_secrets_never_wider_than_0600(self, expected):
        """Every event on a secret file shows 0600 or less; `expected` (base names) were all created."""
        secrets = self.of(lambda event: not event.is_dir and self.is_secret(event.path))
        wide = [(event.what, event.path, oct(event.mode)) for event in secrets if event.mode & 0o077]
        assert not wide, f"a secret file was readable by others for a moment: {wide}"
        created = {os.path.basename(event.path) for event in secrets}
        assert set(expected) <= created, f"expected {sorted(expected)}, saw {sorted(created)}"
        for event in secrets:
            if event.what == "write":
                assert event.mode == 0o600, (event.path, oct(event.mode))  # the final mode before the first byte

    def assert_directories(self, under, mode=0o700):
        """Every directory created or moved under `under` had exactly `mode` at every recorded moment."""
        under = os.path.realpath(str(under))
        directories = self.of(lambda event: event.is_dir and (event.path + os.sep).startswith(under + os.sep))
        assert directories, f"no directory was created under {under}"
        wrong = [(event.what, event.path, oct(event.mode)) for event in directories if event.mode != mode]
        assert not wrong, f"directories with another mode than {oct(mode)}: {wrong}"

    def assert_public_files_not_writable_by_others(self):
        public = self.of(lambda event: not event.is_dir and not self.is_secret(event.path))
        writable = [(event.what, event.path, oct(event.mode)) for event in public if event.mode & 0o022]
        assert not writable, writable


def tree_modes(root):
    """{relative path: mode} of everything under `root` (directories end in '/')."""
    modes = {}
    for directory, names, files in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            modes[os.path.relpath(path, root) + "/"] = stat.S_IMODE(os.stat(path).st_mode)
        for name in files:
            path = os.path.join(directory, name)
            modes[os.path.relpath(path, root)] = stat.S_IMODE(os.stat(path).st_mode)
    return modes


def assert_final_pki_modes(pki_dir, secret_names=()):
    """At rest: directories 0700, secret files 0600, public files 0644."""
    modes = tree_modes(pki_dir)
    assert modes
    for path, mode in modes.items():
        name = os.path.basename(path.rstrip("/"))
        if path.endswith("/"):
            wanted = 0o700
        elif SECRET_NAME.match(name) or name in secret_names:
            wanted = 0o600
        else:
            wanted = 0o644
        assert mode == wanted, f"{path} is {oct(mode)}, not {oct(wanted)}"


@pytest.fixture
def umask_zero():
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def recorder(monkeypatch, tmp_path, umask_zero):
    del umask_zero
    return ModeRecorder(monkeypatch, tmp_path)


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE], ids=["plain", "encrypted"])
def test_ca_creation_and_its_exports(recorder, tmp_path, passphrase):
    pki_dir = tmp_path / "fleets" / "plant4" / "pki"  # parents are created too
    authority, changed, _notes = ensure_authority(str(pki_dir), AuthoritySettings("Mode Test CA"), passphrase, now=NOW)
    assert changed
    write_exports(str(pki_dir), authority.certificate, authority.label)
    recorder.assert_secrets_never_wider_than_0600({"ca.key"})
    recorder.assert_directories(tmp_path / "fleets")
    recorder.assert_public_files_not_writable_by_others()
    assert_final_pki_modes(str(pki_dir))
    assert {"ca/", "ca/ca.key", "ca/ca.crt", "index.txt"} <= set(tree_modes(str(pki_dir)))


@pytest.mark.parametrize("batch", [False, True], ids=["per-host", "batch"])
def test_artifact_issuance_into_the_host_directory(recorder, tmp_path, batch):
    pki_dir = str(tmp_path / "pki")
    authority, _changed, _notes = ensure_authority(pki_dir, AuthoritySettings("Mode Test CA"), PASSPHRASE, now=NOW)
    # fw1: the key in fw1.c (fw1.h only declares it); fw2: the key in fw2.h.
    jobs = [(host_settings("fw1", ansible_host="10.77.0.1", delivery="artifacts"), EXPORT_KNOBS),
            (host_settings("fw2", ansible_host="10.77.0.2", delivery="artifacts"), dict(EXPORT_KNOBS, c_source=False))]
    recorder.secret_names.update({"fw1.c", "fw2.h"})
    outcomes = converge_artifacts(authority, jobs, NOW, lambda: authority.private_key(PASSPHRASE), batch=batch)
    assert all(outcome["issued"] for outcome in outcomes.values())
    recorder.assert_secrets_never_wider_than_0600({"ca.key", "key.pem", "key.der", "key.der.inc", "fw1.p12", "fw1.c",
                                                   "fw2.p12", "fw2.h", ".lock"})
    recorder.assert_directories(pki_dir)
    recorder.assert_public_files_not_writable_by_others()
    assert_final_pki_modes(pki_dir, recorder.secret_names)
    assert stat.S_IMODE(os.stat(os.path.join(pki_dir, "hosts", "fw1", "fw1.h")).st_mode) == 0o644  # declarations only


def test_controller_copy_of_a_device_key_kept_with_keep_keys(recorder, tmp_path):
    """What fleet.pki.certificate does with keep_keys: the key in <pki_dir>/hosts/<host>/key.pem."""
    pki_dir = str(tmp_path / "pki")
    authority, _changed, _notes = ensure_authority(pki_dir, AuthoritySettings("Mode Test CA"), now=NOW)
    key = generate_private_key("ec-p256")
    certificate = issue(authority, authority.private_key(), key.public_key(),
                        LeafRequest("dev1", (("IP", "10.0.0.1"),), "server", 30), NOW)
    host_directory(pki_dir, "dev1", create=True)
    converge(artifact_specs(pki_dir, "dev1"), {"key": private_key_pem(key), "cert": to_pem(certificate),
                                               "chain": authority.pem})
    recorder.assert_secrets_never_wider_than_0600({"ca.key", "key.pem"})
    recorder.assert_directories(pki_dir)
    assert_final_pki_modes(pki_dir)


def test_index_revocation_and_crl(recorder, tmp_path):
    pki_dir = str(tmp_path / "pki")
    authority, _changed, _notes = ensure_authority(pki_dir, AuthoritySettings("Mode Test CA"), PASSPHRASE, now=NOW)
    converge_artifacts(authority, [(host_settings("fw1", ansible_host="10.77.0.1", delivery="artifacts"), {})], NOW,
                       lambda: authority.private_key(PASSPHRASE))
    outcome = revoke_and_publish(pki_dir, hosts=["fw1"], reason="keyCompromise", passphrase=PASSPHRASE, now=NOW)
    assert outcome.revoked
    index_events = recorder.of(lambda event: os.path.basename(event.path) in ("index.txt", "crl.pem"))
    assert {"index.txt", "crl.pem"} <= {os.path.basename(event.path) for event in index_events}
    recorder.assert_secrets_never_wider_than_0600({".lock"})
    recorder.assert_public_files_not_writable_by_others()
    assert_final_pki_modes(pki_dir)


def test_ca_certificate_renewal_and_rollover(recorder, tmp_path):
    pki_dir = str(tmp_path / "pki")
    authority, _changed, _notes = ensure_authority(pki_dir, AuthoritySettings("Mode Test CA"), PASSPHRASE, now=NOW)
    renewed = renew_ca_certificate(authority, PASSPHRASE, 3650, NOW + datetime.timedelta(days=1))
    assert renewed.certificate != authority.certificate
    _new, changed = prepare(pki_dir, next_settings(renewed, NOW), PASSPHRASE, now=NOW)
    assert changed and switch(pki_dir) and retire(pki_dir)[1]
    recorder.assert_secrets_never_wider_than_0600({"ca.key"})
    recorder.assert_directories(pki_dir)
    renamed = recorder.of(lambda event: event.what == "rename" and event.is_dir)
    assert {os.path.basename(event.path) for event in renamed} >= {"ca"}  # the directory moves were recorded
    recorder.assert_public_files_not_writable_by_others()
    assert_final_pki_modes(pki_dir)


def test_device_side_delivery_writes(recorder, tmp_path, authority):
    """fleet.pki.certificate_files on a device: key 0600 from its first byte; the directory is 0755 by design
    (it holds the public certificate and chain too)."""
    key = generate_private_key("ec-p256")
    certificate = issue(authority, authority.private_key(), key.public_key(),
                        LeafRequest("dev1", (("IP", "10.0.0.1"),), "server", 30), NOW)
    dest = tmp_path / "device" / "etc" / "fleet-pki"
    specs = {role: FileSpec(str(dest / f"{role}.pem"), 0o600 if role == "key" else 0o644) for role in ROLES}
    changed, _fixed = converge(specs, {"key": private_key_pem(key), "cert": to_pem(certificate), "chain": authority.pem})
    assert changed == list(ROLES)
    recorder.assert_secrets_never_wider_than_0600({"key.pem"})
    recorder.assert_directories(tmp_path / "device", mode=0o755)
    recorder.assert_public_files_not_writable_by_others()
    assert stat.S_IMODE(os.stat(specs["key"].path).st_mode) == 0o600


def test_device_made_key_and_its_activation(recorder, tmp_path, authority):
    key_path = str(tmp_path / "device" / "tls" / "key.pem")
    pending = new_pending_key(key_path, "ec-p256")
    csr = csr_for(pending, "dev1")
    public_key = x509.load_pem_x509_csr(csr.encode()).public_key()
    certificate = issue(authority, authority.private_key(), public_key,
                        LeafRequest("dev1", (("IP", "10.0.0.1"),), "server", 30), NOW)
    assert activate_pending_key(key_path, to_pem(certificate)) is True
    recorder.assert_secrets_never_wider_than_0600({"key.pem.pending"})
    moved = recorder.of(lambda event: event.what == "replace" and event.path == os.path.realpath(key_path))
    assert moved and all(event.mode == 0o600 for event in moved)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600


def test_the_recorder_sees_a_window_with_a_wider_mode(recorder, tmp_path):
    """The check can fail: a key written the naive way (open with the umask's 0666, chmod after) is caught."""
    path = tmp_path / "pki" / "ca.key"
    os.mkdir(tmp_path / "pki", 0o700)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT, 0o666)
    os.write(fd, b"secret")
    os.close(fd)
    os.chmod(str(path), 0o600)
    with pytest.raises(AssertionError, match="readable by others for a moment"):
        recorder.assert_secrets_never_wider_than_0600({"ca.key"})
