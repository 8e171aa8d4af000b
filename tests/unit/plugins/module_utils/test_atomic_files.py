# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import os
import stat
import subprocess
import time

import pytest

from ansible_collections.fleet.pki.plugins.module_utils import _atomic_files
from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import (
    deferred_writes, ensure_directory, read_file, refuse_links, write_file_atomic,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_sets_the_mode_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        write_file_atomic(str(tmp_path / "key.pem"), b"secret", mode=0o600)
        write_file_atomic(str(tmp_path / "cert.pem"), "public", mode=0o644)
    finally:
        os.umask(old)
    assert mode(tmp_path / "key.pem") == 0o600 and read_file(str(tmp_path / "key.pem")) == b"secret"
    assert mode(tmp_path / "cert.pem") == 0o644


def test_the_temp_file_has_the_final_mode_before_any_byte_is_written(tmp_path, monkeypatch):
    seen = []
    real_write = os.write

    def spy(fd, data):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(_atomic_files.os, "write", spy)
    write_file_atomic(str(tmp_path / "key.pem"), b"secret", mode=0o600)
    assert seen == [0o600]


def test_replace_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = str(tmp_path / "cert.pem")
    write_file_atomic(path, b"one", mode=0o644)
    inode = os.stat(path).st_ino
    write_file_atomic(path, b"two", mode=0o644)
    assert read_file(path) == b"two"
    assert os.stat(path).st_ino != inode  # a new file was renamed over the old one
    assert os.listdir(tmp_path) == ["cert.pem"]


def test_a_failed_write_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = str(tmp_path / "index.txt")
    write_file_atomic(path, b"old", mode=0o644)

    def full(_fd, _data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_atomic_files.os, "write", full)
    with pytest.raises(FleetPkiError, match="no space left on device; the old file is unchanged"):
        write_file_atomic(path, b"new", mode=0o644)
    assert read_file(path) == b"old"
    assert os.listdir(tmp_path) == ["index.txt"]


def test_write_into_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FleetPkiError, match="cannot write"):
        write_file_atomic(str(tmp_path / "nope" / "x"), b"x")


def test_ensure_directory_creates_parents_with_the_mode(tmp_path):
    old = os.umask(0o022)
    try:
        assert ensure_directory(str(tmp_path / "a" / "b"), 0o700)
    finally:
        os.umask(old)
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert ensure_directory(str(tmp_path / "a" / "b"), 0o755) is False
    assert mode(tmp_path / "a" / "b") == 0o700  # existing directories are left as they are


def test_read_file_of_a_missing_file_is_none(tmp_path):
    assert read_file(str(tmp_path / "missing")) is None


def test_deferred_writes_show_nothing_until_the_batch_commits(tmp_path):
    old = tmp_path / "cert.pem"
    old.write_bytes(b"old")
    with deferred_writes():
        write_file_atomic(str(old), b"new", mode=0o644)
        write_file_atomic(str(tmp_path / "key.pem"), b"key", mode=0o600)
        write_file_atomic(str(tmp_path / "key.pem"), b"key 2", mode=0o600)  # written twice: the last one counts
        assert old.read_bytes() == b"old" and not (tmp_path / "key.pem").exists()
        assert read_file(str(old)) == b"new" and read_file(str(tmp_path / "key.pem")) == b"key 2"
        assert len([name for name in os.listdir(tmp_path) if name.endswith(".tmp")]) == 2
    assert old.read_bytes() == b"new" and (tmp_path / "key.pem").read_bytes() == b"key 2"
    assert oct(os.stat(tmp_path / "key.pem").st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(tmp_path)) == ["cert.pem", "key.pem"]


def test_a_failed_batch_writes_nothing_and_leaves_no_temp_files(tmp_path):
    (tmp_path / "cert.pem").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with deferred_writes():
            write_file_atomic(str(tmp_path / "cert.pem"), b"new")
            write_file_atomic(str(tmp_path / "key.pem"), b"key")
            raise RuntimeError("stop")
    assert sorted(os.listdir(tmp_path)) == ["cert.pem"] and (tmp_path / "cert.pem").read_bytes() == b"old"


def test_a_write_that_must_not_wait_for_the_batch_is_on_disk_at_once(tmp_path):
    # The index is written under the PKI lock; another process must see it as soon as the lock is released.
    with deferred_writes():
        write_file_atomic(str(tmp_path / "cert.pem"), b"batched")
        write_file_atomic(str(tmp_path / "index.txt"), b"shared", defer=False)
        assert (tmp_path / "index.txt").read_bytes() == b"shared" and not (tmp_path / "cert.pem").exists()
    assert (tmp_path / "cert.pem").read_bytes() == b"batched"


# Planted links (issue 8): refused, named with their target, and left as they are.
def test_refuse_links_names_a_linked_file_and_leaves_its_target_alone(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    link = tmp_path / "key.pem"
    link.symlink_to(target)
    with pytest.raises(FleetPkiError) as error:
        refuse_links(str(link), "key file", "set key_path to the real file")
    assert f"the key file {link} is a symbolic link (to {target})" in str(error.value)
    assert "remove the link, or set key_path to the real file" in str(error.value)
    assert target.read_text() == "precious\n" and link.is_symlink()


def test_refuse_links_names_a_linked_directory_and_a_dangling_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "dest").symlink_to(real)
    with pytest.raises(FleetPkiError, match=f"the directory {tmp_path / 'dest'} that holds .* is a symbolic link"):
        refuse_links(str(tmp_path / "dest" / "key.pem"))
    (tmp_path / "dangling.pem").symlink_to(tmp_path / "not-yet")
    with pytest.raises(FleetPkiError, match="is a symbolic link"):
        refuse_links(str(tmp_path / "dangling.pem"))
    assert not os.listdir(real) and not (tmp_path / "not-yet").exists()


def test_refuse_links_accepts_plain_and_missing_files(tmp_path):
    (tmp_path / "plain.pem").write_text("x")
    refuse_links(str(tmp_path / "plain.pem"))
    refuse_links(str(tmp_path / "missing" / "key.pem"))


def _dead_pid():
    child = subprocess.Popen(["true"])  # pylint: disable=consider-using-with
    child.wait()
    return child.pid


def test_a_write_removes_the_temp_files_a_killed_writer_left_of_that_file(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    left = {
        f".key.pem.{dead}.ab12cd34.tmp": False,  # its writer is gone: removed
        f".key.pem.{alive}.ab12cd34.tmp": True,  # its writer may still be writing: kept
        ".key.pem.ab12cd34.tmp": True,  # no pid and recent: kept
        f".cert.pem.{dead}.ab12cd34.tmp": True,  # another file's: its own next write removes it
        ".key.pem.bak": True,  # not a temp file of ours
        f".key.pem.{dead}.tmp": True,
    }
    for name in left:
        (tmp_path / name).write_bytes(b"-----BEGIN PRIVATE KEY-----")
    write_file_atomic(str(tmp_path / "key.pem"), b"new")
    kept = {name for name, keep in left.items() if keep}
    assert set(os.listdir(tmp_path)) == kept | {"key.pem"}


def test_an_old_temp_file_is_stale_even_if_its_pid_runs_again(tmp_path):
    day_old = time.time() - _atomic_files.STALE_TEMP_SECONDS - 60
    for name in (f".key.pem.{os.getppid()}.ab12cd34.tmp", ".key.pem.ef56gh78.tmp"):
        (tmp_path / name).write_bytes(b"old")
        os.utime(tmp_path / name, (day_old, day_old))
    assert _atomic_files.remove_stale_temps(str(tmp_path), "key.pem") == 2
    assert not os.listdir(tmp_path)


def test_a_batch_sweeps_before_its_own_temp_files_exist(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".key.pem.{dead}.ab12cd34.tmp").write_bytes(b"old")
    with deferred_writes(few=True):
        write_file_atomic(str(tmp_path / "key.pem"), b"one")
        write_file_atomic(str(tmp_path / "key.pem"), b"two")  # its own pending temp file is not swept as stale
        assert read_file(str(tmp_path / "key.pem")) == b"two"
    assert os.listdir(tmp_path) == ["key.pem"] and (tmp_path / "key.pem").read_bytes() == b"two"
