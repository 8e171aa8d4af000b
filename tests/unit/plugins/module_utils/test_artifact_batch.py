# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The artefact batch commits a bounded number of hosts at a time, loads the CA key once, and a no-op costs no sync."""

from __future__ import annotations

import datetime
import errno
import os

import pytest
from cryptography import x509

from ansible_collections.fleet.pki.plugins.module_utils import _artifact_batch, _atomic_files
from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)


def fleet(count):
    return [(host_settings(f"fw{index}", ansible_host=f"10.77.0.{index + 1}", delivery="artifacts"), {})
            for index in range(count)]


class Counting:
    """Counts the calls of `function` and, at each call, the pending writes of the open batch."""

    def __init__(self, function):
        self.function, self.calls, self.pending = function, 0, []

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.pending.append(len(_atomic_files._deferred or {}))  # pylint: disable=protected-access
        return self.function(*args, **kwargs)


def test_a_batch_commits_a_few_hosts_at_a_time_and_loads_the_ca_key_once(tmp_path, monkeypatch):
    authority = ensure_authority(str(tmp_path / "pki"), AuthoritySettings("Batch CA"), now=NOW)[0]
    monkeypatch.setattr(_artifact_batch, "HOSTS_PER_COMMIT", 2)
    sync = Counting(os.sync)
    monkeypatch.setattr(_atomic_files.os, "sync", sync)
    ca_key = Counting(authority.private_key)
    read_index = Counting(_artifact_batch.read_index)
    monkeypatch.setattr(_artifact_batch, "read_index", read_index)

    outcomes = _artifact_batch.converge_artifacts(authority, fleet(5), NOW, ca_key, batch=True)

    assert sorted(outcomes) == [f"fw{index}" for index in range(5)]
    assert all(outcome["issued"] for outcome in outcomes.values())
    assert (ca_key.calls, read_index.calls) == (1, 1)  # three commits, one CA key load, one read of the revocations
    assert sync.calls == 6  # two per commit (contents durable, then the renames), and three commits
    per_host = len(os.listdir(tmp_path / "pki" / "hosts" / "fw0"))
    # Before each commit's first sync, its hosts' files are pending; never more than two hosts' at once.
    assert sync.pending == [2 * per_host, 0, 2 * per_host, 0, per_host, 0]
    for index in range(5):
        with open(tmp_path / "pki" / "hosts" / f"fw{index}" / "cert.pem", "rb") as handle:
            certificate = x509.load_pem_x509_certificate(handle.read())
        certificate.verify_directly_issued_by(authority.certificate)
    assert not [name for _dir, _dirs, files in os.walk(tmp_path) for name in files if name.endswith(".tmp")]


def test_a_no_op_batch_costs_no_sync(tmp_path, monkeypatch):
    authority = ensure_authority(str(tmp_path / "pki"), AuthoritySettings("Batch CA"), now=NOW)[0]
    _artifact_batch.converge_artifacts(authority, fleet(3), NOW, authority.private_key, batch=True)
    sync = Counting(os.sync)
    monkeypatch.setattr(_atomic_files.os, "sync", sync)
    ca_key = Counting(authority.private_key)

    outcomes = _artifact_batch.converge_artifacts(authority, fleet(3), NOW, ca_key, batch=True)

    assert not any(outcome["changed"] for outcome in outcomes.values())
    assert (sync.calls, ca_key.calls) == (0, 0)


def test_a_full_disk_part_way_keeps_the_commits_before_it_and_touches_nothing_after(tmp_path, monkeypatch):
    authority = ensure_authority(str(tmp_path / "pki"), AuthoritySettings("Batch CA"), now=NOW)[0]
    monkeypatch.setattr(_artifact_batch, "HOSTS_PER_COMMIT", 2)
    hosts = tmp_path / "pki" / "hosts"
    real_write = os.write

    def full_from_the_third_host(fd, data):
        if (hosts / "fw2").exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(_atomic_files.os, "write", full_from_the_third_host)
    with pytest.raises(FleetPkiError, match="no space left on device"):
        _artifact_batch.converge_artifacts(authority, fleet(5), NOW, authority.private_key, batch=True)

    assert sorted(os.listdir(hosts)) == ["fw0", "fw1", "fw2"]
    assert all((hosts / name / "cert.pem").is_file() for name in ("fw0", "fw1"))  # the first commit stands
    assert os.listdir(hosts / "fw2") == []  # the failed commit replaced nothing and left no temp file
    monkeypatch.setattr(_atomic_files.os, "write", real_write)
    outcomes = _artifact_batch.converge_artifacts(authority, fleet(5), NOW, authority.private_key, batch=True)
    assert [name for name, outcome in sorted(outcomes.items()) if outcome["issued"]] == ["fw2", "fw3", "fw4"]
