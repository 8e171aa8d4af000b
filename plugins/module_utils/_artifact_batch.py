# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Artefact-only hosts: decide, issue or keep, and export, for one host or a whole fleet in one pass.

fleet.pki.certificate runs this for one host; fleet.pki.artifacts for every host of the play. In a batch the
CA key is loaded once; then, HOSTS_PER_COMMIT hosts at a time, every due certificate is signed under one lock with
one index write, and every file is committed with one sync (deferred_writes) instead of an fsync per file.
"""

from __future__ import annotations

import contextlib
import functools

from ansible_collections.fleet.pki.plugins.module_utils._artifact_target import ArtifactTarget
from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import deferred_writes
from ansible_collections.fleet.pki.plugins.module_utils._ca_index import read_index, revoked_serials
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import (
    held_certificate, public_summary, summary_text, to_pem,
)
from ansible_collections.fleet.pki.plugins.module_utils._issuance import issue_many
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key, private_key_pem
from ansible_collections.fleet.pki.plugins.module_utils._names import san_strings
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import reasons_to_issue


# Hosts per commit in a batch. A commit holds its hosts' pending files (about 7 each) in memory until its sync.
# At 10,000 hosts, 1,000 per commit costs 20 syncs instead of 2 and cut the controller's peak from 307 to 186 MiB.
HOSTS_PER_COMMIT = 1000


def converge_artifacts(authority, jobs, now, ca_key, check_mode=False, diff=False, batch=False):
    """Bring the artefacts of every job in line: jobs are (HostSettings, export knobs); ca_key() gives the CA key.

    ca_key is only called when a certificate is due, and once at most. With `batch`, writes are committed
    together, HOSTS_PER_COMMIT hosts at a time. Returns {host: outcome}, each like fleet.pki.certificate's
    result for an artefact-only host.
    """
    revoked = revoked_serials(read_index(authority.pki_dir))  # once: each commit only adds valid entries
    if not batch:
        return _converge(authority, jobs, now, ca_key, revoked, check_mode, diff, batch)
    ca_key, outcomes = functools.cache(ca_key), {}
    for start in range(0, len(jobs), HOSTS_PER_COMMIT):
        outcomes.update(_converge(authority, jobs[start:start + HOSTS_PER_COMMIT], now, ca_key, revoked,
                                  check_mode, diff, batch))
    return outcomes


def _converge(authority, jobs, now, ca_key, revoked, check_mode, diff, batch):
    plans, due = [], []
    with deferred_writes() if batch else contextlib.nullcontext():
        for settings, knobs in jobs:
            target = ArtifactTarget(authority.pki_dir, settings.host, check_mode, knobs)
            held_pem, key_state, (changed_files, fixed_attributes) = target.inspect(authority.pem)
            held, held_cert = held_certificate(held_pem, key_state, authority.certificate)
            reasons = reasons_to_issue(settings.wanted(), held, now, revoked)
            before = public_summary(held_cert)
            outcome = dict(before, changed=bool(changed_files or fixed_attributes), reasons=reasons, issued=False,
                           changed_files=changed_files, fixed_attributes=fixed_attributes, delivery="artifacts",
                           paths=target.paths())
            plans.append((settings, target, outcome, before))
            if reasons:
                due.append(plans[-1])
        if due and check_mode:
            for settings, _target, outcome, _before in due:
                outcome.update(changed=True, sans=san_strings(settings.sans))
        elif due:
            keys = [generate_private_key(settings.key_type) for settings, *_rest in due]
            certificates = issue_many(authority, ca_key(), [(key.public_key(), settings.request())
                                                            for key, (settings, *_rest) in zip(keys, due)], now)
            for key, certificate, (_settings, target, outcome, _before) in zip(keys, certificates, due):
                installed = target.install(private_key_pem(key), to_pem(certificate), authority.pem)[0]
                outcome.update(public_summary(certificate), changed=True, issued=True,
                               changed_files=sorted(set(outcome["changed_files"]) | set(installed)))
        for settings, target, outcome, before in plans:
            if diff and outcome["reasons"]:
                after = ({"sans": san_strings(settings.sans), "not_after": "(new)", "serial": "(new)"} if check_mode
                         else outcome)
                outcome["diff"] = {"before": summary_text(before), "after": summary_text(after),
                                   "before_header": f"{settings.host} certificate (held)",
                                   "after_header": f"{settings.host} certificate (wanted)"}
            target.export(outcome, authority.pem, pending=bool(outcome["reasons"]) and check_mode, diff=diff)
    return {settings.host: outcome for settings, _target, outcome, _before in plans}
