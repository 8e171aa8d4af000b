# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report's core: classification of every status, the JSON shape, and the Prometheus text parsed back."""

from __future__ import annotations

import datetime
import json
import math
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_index import INDEX_FILE, read_index
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._fleet_report import (
    STATUSES, build_report, host_entry, sort_key, to_json, to_prometheus,
)
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key
from ansible_collections.fleet.pki.plugins.module_utils._serials import serial_hex

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
ENTRY_KEYS = {"host", "status", "reasons", "detail", "source", "addresses", "serial", "subject", "issuer", "not_before",
              "not_after", "days_left", "lifetime_left_percent", "renew_before", "renew_at", "sans", "key_type",
              "key_state", "fingerprint_sha256"}


def knobs(address="10.20.0.5", **extra):
    values = dict(ansible_host=address, ip_addresses=None, dns_names=None, profile=None, key_type=None,
                  validity_days=None, renew_before=None, delivery=None, key_location=None)
    values.update(extra)
    return values


def sign(authority, host, address="10.20.0.5", days=365, issued=NOW):
    key = generate_private_key("ec-p256")
    return issue(authority, authority.private_key(), key.public_key(),
                 LeafRequest(host, (("IP", address),), "server", days), issued)


def collected(certificate, pki_dir, key_state="matches", **knob_values):
    return {"knobs": knobs(**knob_values), "certificate": to_pem(certificate) if certificate is not None else None,
            "key_state": key_state, "source": "device", "pki_dir": pki_dir}


def entry_for(authority, data, at, host="cam-05"):
    return host_entry(host, data, authority.certificate, read_index(authority.pki_dir), at, authority.pki_dir)


def revoke_in_index(pki_dir, serial):
    path = os.path.join(pki_dir, INDEX_FILE)
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    changed = []
    for line in lines:
        fields = line.split("\t")
        if fields[3] == serial:
            fields[0], fields[2] = "R", "261127120000Z,keyCompromise"
        changed.append("\t".join(fields))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(changed) + "\n")


def test_a_current_certificate_is_ok_with_exact_numbers(authority):
    cert = sign(authority, "cam-05")
    entry = entry_for(authority, collected(cert, authority.pki_dir), NOW + 10 * DAY)
    assert entry["status"] == "ok" and entry["reasons"] == [] and entry["detail"] is None
    assert set(entry) == ENTRY_KEYS
    assert entry["days_left"] == 355.0
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc  # 365 days and the 1 h backdate
    assert entry["lifetime_left_percent"] == round(100 * (355 * DAY) / lifetime, 1)
    assert entry["serial"] == serial_hex(cert.serial_number)
    assert entry["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert entry["subject"] == "CN=cam-05" and entry["issuer"] == "CN=Test Fleet CA"
    assert entry["addresses"] == ["IP:10.20.0.5"] and entry["sans"] == ["IP:10.20.0.5"]
    assert entry["source"] == "device" and entry["key_state"] == "matches" and entry["renew_before"] == "33%"
    renew_at = cert.not_valid_after_utc - lifetime * 0.33
    assert entry["renew_at"] == renew_at.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("renew_before, days_later, status", [
    ("33%", 240, "ok"),          # 125 days left of 365 d 1 h: 34 % left
    ("33%", 250, "renew_due"),   # 115 days left: 31.5 % left
    ("30", 334, "ok"),           # 31 days left
    ("30", 336, "renew_due"),    # 29 days left
    ("99%", 10, "renew_due"),    # 355 days left: 97.2 % left
    ("95%", 10, "ok"),
])
def test_renew_due_follows_renew_before_in_days_and_percent(authority, renew_before, days_later, status):
    cert = sign(authority, "cam-05")
    entry = entry_for(authority, collected(cert, authority.pki_dir, renew_before=renew_before), NOW + days_later * DAY)
    assert entry["status"] == status, entry["reasons"]
    if status == "renew_due":
        assert entry["reasons"][0].startswith("expiring: ") and f"renew_before is {renew_before.rstrip('%')}" in entry["reasons"][0]
    assert entry["renew_before"] == renew_before


def test_an_expired_certificate(authority):
    cert = sign(authority, "cam-05", days=30)
    entry = entry_for(authority, collected(cert, authority.pki_dir), NOW + 32 * DAY)
    assert entry["status"] == "expired"
    assert entry["days_left"] == -2.0 and entry["lifetime_left_percent"] == 0.0
    assert entry["reasons"] == [f"expiring: expired on {cert.not_valid_after_utc:%Y-%m-%d}"]


def test_a_revoked_serial_wins_over_expiry(authority):
    cert = sign(authority, "cam-05", days=30)
    revoke_in_index(authority.pki_dir, serial_hex(cert.serial_number))
    assert entry_for(authority, collected(cert, authority.pki_dir), NOW + DAY)["status"] == "revoked"
    late = entry_for(authority, collected(cert, authority.pki_dir), NOW + 40 * DAY)
    assert late["status"] == "revoked"
    assert f"revoked: serial {serial_hex(cert.serial_number)}" in late["reasons"]


@pytest.mark.parametrize("pem, detail", [
    (None, "no certificate on the host"),
    ("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
     "the certificate on the host is not a readable PEM certificate"),
])
def test_missing_or_unreadable_is_missing(authority, pem, detail):
    data = dict(collected(None, authority.pki_dir), certificate=pem, key_state="missing")
    entry = entry_for(authority, data, NOW)
    assert entry["status"] == "missing" and entry["detail"] == detail
    assert entry["days_left"] is None and entry["serial"] is None and entry["addresses"] == ["IP:10.20.0.5"]


def test_mismatch_reasons(authority, tmp_path):
    cert = sign(authority, "cam-05")
    cases = {
        "SANs differ: +IP:10.20.0.6 -IP:10.20.0.5": collected(cert, authority.pki_dir, address="10.20.0.6"),
        "key mismatch: the private key does not belong to the certificate":
            collected(cert, authority.pki_dir, key_state="mismatch"),
        "missing: the private key is missing": collected(cert, authority.pki_dir, key_state="missing"),
        "profile differs: server -> client": collected(cert, authority.pki_dir, profile="client"),
    }
    for reason, data in cases.items():
        entry = entry_for(authority, data, NOW + DAY)
        assert entry["status"] == "mismatch" and reason in entry["reasons"], (reason, entry["reasons"])

    other, _changed, _notes = ensure_authority(str(tmp_path / "other"), AuthoritySettings(common_name="Other CA"), now=NOW)
    foreign = sign(other, "cam-05")
    entry = entry_for(authority, collected(foreign, authority.pki_dir), NOW + DAY)
    assert entry["status"] == "mismatch" and entry["reasons"] == ["not signed by the current CA"]
    assert entry["issuer"] == "CN=Other CA"


def test_mismatch_when_the_index_does_not_know_the_serial_or_knows_a_newer_one(authority):
    older = sign(authority, "cam-05")
    newer = sign(authority, "cam-05", issued=NOW + DAY)
    entry = entry_for(authority, collected(older, authority.pki_dir), NOW + 2 * DAY)
    assert entry["status"] == "mismatch"
    assert entry["reasons"] == [f"superseded: index.txt has a newer certificate for /CN=cam-05 "
                                f"(serial {serial_hex(newer.serial_number)})"]
    assert entry_for(authority, collected(newer, authority.pki_dir), NOW + 2 * DAY)["status"] == "ok"

    path = os.path.join(authority.pki_dir, INDEX_FILE)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("")
    entry = entry_for(authority, collected(newer, authority.pki_dir), NOW + 2 * DAY)
    assert entry["status"] == "mismatch"
    assert entry["reasons"] == [f"not in index: serial {serial_hex(newer.serial_number)} is not in index.txt"]


def test_unreachable_and_error_entries_name_the_host(authority):
    unreachable = {"unreachable": True, "msg": "host cam-05: ssh: connect to host 10.20.0.5 port 22: Connection refused",
                   "knobs": knobs(), "source": "device", "pki_dir": authority.pki_dir}
    entry = entry_for(authority, unreachable, NOW)
    assert entry["status"] == "unreachable" and "Connection refused" in entry["detail"]
    assert entry["addresses"] == ["IP:10.20.0.5"] and entry["days_left"] is None

    failed = {"failed": True, "msg": "host cam-05: fleet_pki_dns_names entry 'x y' is not a valid DNS name",
              "knobs": knobs(dns_names=["x y"]), "pki_dir": authority.pki_dir}
    entry = entry_for(authority, failed, NOW)
    assert entry["status"] == "error" and entry["detail"] == failed["msg"] and entry["addresses"] == []

    assert entry_for(authority, None, NOW)["status"] == "error"
    assert "nothing was collected" in entry_for(authority, None, NOW)["detail"]
    cert = sign(authority, "cam-05")
    elsewhere = dict(collected(cert, "/elsewhere/pki"))
    entry = entry_for(authority, elsewhere, NOW)
    assert entry["status"] == "error" and "/elsewhere/pki" in entry["detail"] and authority.pki_dir in entry["detail"]


def fleet_report(authority):
    """Seven hosts, one per status that a certificate can have, plus unreachable and error."""
    at = NOW + 20 * DAY
    ok = sign(authority, "ok-1", "10.0.0.1")
    due = sign(authority, "due-1", "10.0.0.2", days=25)
    expired = sign(authority, "old-1", "10.0.0.3", days=10)
    revoked = sign(authority, "rev-1", "10.0.0.4")
    revoke_in_index(authority.pki_dir, serial_hex(revoked.serial_number))
    mismatch = sign(authority, "moved-1", "10.0.0.5")
    data = {
        "ok-1": collected(ok, authority.pki_dir, address="10.0.0.1"),
        "due-1": collected(due, authority.pki_dir, address="10.0.0.2"),
        "old-1": collected(expired, authority.pki_dir, address="10.0.0.3"),
        "rev-1": collected(revoked, authority.pki_dir, address="10.0.0.4"),
        "moved-1": collected(mismatch, authority.pki_dir, address="10.0.0.50"),
        "new-1": collected(None, authority.pki_dir, address="10.0.0.6", key_state="missing"),
        "down-1": {"unreachable": True, "msg": "host down-1: unreachable", "knobs": knobs("10.0.0.7")},
        "bad-1": {"failed": True, "msg": "host bad-1: broken", "knobs": knobs("10.0.0.8")},
    }
    entries = [entry_for(authority, value, at, host) for host, value in data.items()]
    return build_report(entries, authority.certificate, at, authority.pki_dir), {"ok": ok, "due": due, "old": expired}


def test_report_counts_every_status_and_sorts_by_days_left(authority):
    report, _certs = fleet_report(authority)
    assert report["counts"] == {status: 1 for status in STATUSES}
    assert list(report["counts"]) == list(STATUSES)
    assert report["total"] == 8 == len(report["hosts"])
    statuses = {entry["host"]: entry["status"] for entry in report["hosts"]}
    assert statuses == {"ok-1": "ok", "due-1": "renew_due", "old-1": "expired", "rev-1": "revoked",
                        "moved-1": "mismatch", "new-1": "missing", "down-1": "unreachable", "bad-1": "error"}
    days = [entry["days_left"] for entry in report["hosts"]]
    with_days = [value for value in days if value is not None]
    assert with_days == sorted(with_days) and with_days[0] == -10.0
    assert days[len(with_days):] == [None, None, None]  # hosts without a certificate come last, by name
    assert [entry["host"] for entry in report["hosts"][len(with_days):]] == ["bad-1", "down-1", "new-1"]
    assert sorted(report["hosts"], key=sort_key) == report["hosts"]


def test_json_shape(authority):
    report, _certs = fleet_report(authority)
    data = json.loads(to_json(report))
    assert set(data) == {"schema", "generated_at", "generated_timestamp", "pki_dir", "ca", "counts", "total", "hosts"}
    assert data["schema"] == 1 and data["generated_at"] == "2026-12-16T12:00:00Z"
    assert data["generated_timestamp"] == int((NOW + 20 * DAY).timestamp())
    assert set(data["ca"]) == {"subject", "serial", "not_before", "not_after", "days_left", "fingerprint_sha256"}
    assert data["ca"]["subject"] == "CN=Test Fleet CA"
    ca_end = authority.certificate.not_valid_after_utc
    assert data["ca"]["days_left"] == round((ca_end - (NOW + 20 * DAY)).total_seconds() / 86400, 2)
    assert all(set(entry) == ENTRY_KEYS for entry in data["hosts"])
    assert data == report


def test_prometheus_text_parses_back_with_exact_values(authority):
    report, certs = fleet_report(authority)
    families = {family.name: family for family in text_string_to_metric_families(to_prometheus(report))}
    assert {"fleet_pki_report_generated_timestamp_seconds", "fleet_pki_ca_expiry_timestamp_seconds",
            "fleet_pki_ca_days_left", "fleet_pki_certificate_expiry_timestamp_seconds",
            "fleet_pki_certificate_days_left", "fleet_pki_certificate_lifetime_left_ratio",
            "fleet_pki_certificate_renewal_timestamp_seconds", "fleet_pki_certificate_status",
            "fleet_pki_hosts"} == set(families)
    assert all(family.type == "gauge" and family.documentation for family in families.values())

    def samples(name):
        return {tuple(sorted(sample.labels.items())): sample.value for sample in families[name].samples}

    assert samples("fleet_pki_report_generated_timestamp_seconds") == {(): (NOW + 20 * DAY).timestamp()}
    assert samples("fleet_pki_ca_expiry_timestamp_seconds") == {
        (("subject", "CN=Test Fleet CA"),): authority.certificate.not_valid_after_utc.timestamp()}
    expiry = samples("fleet_pki_certificate_expiry_timestamp_seconds")
    assert len(expiry) == 5  # the hosts that hold a certificate
    for host, name in (("ok-1", "ok"), ("due-1", "due"), ("old-1", "old")):
        cert = certs[name]
        labels = (("host", host), ("serial", serial_hex(cert.serial_number)))
        assert expiry[labels] == cert.not_valid_after_utc.timestamp()
        expected_days = round((cert.not_valid_after_utc - (NOW + 20 * DAY)).total_seconds() / 86400, 2)
        assert samples("fleet_pki_certificate_days_left")[labels] == expected_days
    assert samples("fleet_pki_certificate_days_left")[(("host", "old-1"), ("serial", serial_hex(certs["old"].serial_number)))] == -10.0
    status = samples("fleet_pki_certificate_status")
    assert len(status) == 8 * len(STATUSES)
    for entry in report["hosts"]:
        for name in STATUSES:
            assert status[(("host", entry["host"]), ("status", name))] == (1.0 if name == entry["status"] else 0.0)
    assert samples("fleet_pki_hosts") == {(("status", name),): float(report["counts"][name]) for name in STATUSES}
    ratio = samples("fleet_pki_certificate_lifetime_left_ratio")
    assert all(0.0 <= value <= 1.0 and not math.isnan(value) for value in ratio.values())


def test_prometheus_label_values_are_escaped(authority):
    report, _certs = fleet_report(authority)
    report["hosts"][0]["host"] = 'we"ird\\host\nname'
    text = to_prometheus(report)
    hosts = {sample.labels.get("host") for family in text_string_to_metric_families(text) for sample in family.samples}
    assert 'we"ird\\host\nname' in hosts
