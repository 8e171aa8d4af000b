# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The fleet report: every host's certificate state, classified, as JSON and as a Prometheus textfile.

Input is what the collection step found per host (the certificate the device holds, or the one in the
artefacts directory, and the host's settings), the CA and index.txt. The status of a host is one of
STATUSES; the rules are those of the renewal decision (_renewal_decision.reasons_to_issue), so the report
says "renew due" exactly when the next provision run would renew for time.
"""

from __future__ import annotations

import datetime
import json
import math

from ansible_collections.fleet.pki.plugins.module_utils._ca_index import openssl_subject, revoked_serials
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import describe, held_certificate, iso, utc
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings
from ansible_collections.fleet.pki.plugins.module_utils._names import san_strings
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import (
    DEFAULT_RENEW_BEFORE, EXPIRING, KEY_MISMATCH, KEY_TYPE_DIFFERS, MISSING, NOT_CURRENT_CA, PROFILE_DIFFERS, REVOKED,
    SANS_DIFFER, SUBJECT_DIFFERS, UNREADABLE, reasons_to_issue,
)

SCHEMA = 1
# Worst first: the order of the counts, of the HTML's attention list, and of the precedence between statuses
# that can apply to one certificate (a revoked certificate that also expired is reported as revoked).
STATUSES = ("revoked", "expired", "mismatch", "missing", "unreachable", "error", "renew_due", "ok")
STATUS_LABELS = {
    "revoked": "revoked", "expired": "expired", "mismatch": "mismatch", "missing": "missing",
    "unreachable": "unreachable", "error": "error", "renew_due": "renew due", "ok": "ok",
}
# Reasons of the renewal decision that mean "the host holds a certificate, but not the one the PKI wants it to hold".
MISMATCH_REASONS = (MISSING, UNREADABLE, KEY_MISMATCH, NOT_CURRENT_CA, SANS_DIFFER, SUBJECT_DIFFERS, PROFILE_DIFFERS,
                    KEY_TYPE_DIFFERS)
# Reasons only the report gives: the index does not know the certificate, or knows a newer one for the host.
NOT_IN_INDEX = "not in index"
SUPERSEDED = "superseded"
DAY_SECONDS = 86400.0
DEFAULT_RESULT_KEY = "certificate_report"


def _starts(reason, keys):
    return any(reason == key or reason.startswith(key + ":") for key in keys)


def index_reasons(held, subject, entries):
    """What index.txt says about a certificate signed by the current CA: unknown serial, or a newer one issued."""
    if not held.issued_by_current_ca or not held.serial:
        return []
    serial = held.serial.upper()
    if serial not in {entry.serial for entry in entries}:
        return [f"{NOT_IN_INDEX}: serial {serial} is not in index.txt"]
    valid = [entry for entry in entries if entry.subject == subject and entry.status == "V"]
    if valid and valid[-1].serial != serial and any(entry.serial == serial for entry in valid):
        return [f"{SUPERSEDED}: index.txt has a newer certificate for {subject} (serial {valid[-1].serial})"]
    return []


def classify(held, wanted, now, entries, subject=""):
    """(status, reasons) for what a host holds (a _renewal_decision.Held).

    `reasons` are the renewal decision's (what the next provision run would do) plus index_reasons().
    """
    reasons = reasons_to_issue(wanted, held, now, revoked_serials(entries))
    if held.state != "present":
        return "missing", reasons
    reasons += index_reasons(held, subject, entries)
    if any(_starts(reason, (REVOKED,)) for reason in reasons):
        return "revoked", reasons
    if held.not_after <= now:
        return "expired", reasons
    if any(_starts(reason, MISMATCH_REASONS + (NOT_IN_INDEX, SUPERSEDED)) for reason in reasons):
        return "mismatch", reasons
    if any(_starts(reason, (EXPIRING,)) for reason in reasons):
        return "renew_due", reasons
    return "ok", reasons


def days_between(later, earlier):
    return round((later - earlier).total_seconds() / DAY_SECONDS, 2)


def _blank(host):
    return {
        "host": host, "status": "error", "reasons": [], "detail": None, "source": None, "addresses": [],
        "serial": None, "subject": None, "issuer": None, "not_before": None, "not_after": None, "days_left": None,
        "lifetime_left_percent": None, "renew_before": None, "renew_at": None, "sans": [], "key_type": None,
        "key_state": None, "fingerprint_sha256": None,
    }


def host_entry(host, collected, ca_certificate, entries, now, pki_dir=None):
    """One host's line of the report, from what the collection step registered for it (a dict, or None)."""
    entry = _blank(host)
    if not isinstance(collected, dict) or not collected:
        entry["detail"] = "nothing was collected from this host (the collection task did not run for it)"
        return entry
    settings = None
    knobs = collected.get("knobs")
    if isinstance(knobs, dict):
        try:
            settings = host_settings(host, **knobs)
        except (FleetPkiError, TypeError) as exc:
            settings_error = str(exc)
        else:
            settings_error = None
            entry["addresses"] = san_strings(settings.sans)
            entry["renew_before"] = str(knobs.get("renew_before") or DEFAULT_RENEW_BEFORE)
    else:
        settings_error = f"host {host}: no settings were collected"
    message = " ".join(str(collected.get("msg") or "").split()) or None
    entry["source"] = collected.get("source")

    if collected.get("unreachable"):
        entry.update(status="unreachable", detail=message or f"host {host} was not reachable")
        return entry
    if collected.get("failed"):
        entry.update(detail=message or f"host {host}: the collection failed without a message")
        return entry
    if collected.get("skipped"):
        entry.update(detail=f"host {host}: the collection task was skipped")
        return entry
    if settings is None:
        entry.update(detail=settings_error)
        return entry
    if pki_dir and collected.get("pki_dir") and collected["pki_dir"] != pki_dir:
        entry.update(detail=f"host {host} uses the PKI directory {collected['pki_dir']}, this report covers {pki_dir}")
        return entry

    held, certificate = held_certificate(collected.get("certificate"), collected.get("key_state") or "unknown",
                                         ca_certificate)
    subject = openssl_subject(certificate.subject) if certificate is not None else ""
    status, reasons = classify(held, settings.wanted(), now, entries, subject)
    entry.update(status=status, reasons=reasons, key_state=collected.get("key_state"))
    if certificate is None:
        entry["detail"] = held.detail
        return entry
    facts = describe(certificate)
    not_before, not_after = utc(certificate.not_valid_before_utc), utc(certificate.not_valid_after_utc)
    lifetime = not_after - not_before
    threshold = settings.renew_before.threshold(lifetime)
    left = (not_after - now).total_seconds()
    entry.update(
        serial=facts["serial"], subject=facts["subject"], issuer=certificate.issuer.rfc4514_string(),
        not_before=facts["not_before"], not_after=facts["not_after"], days_left=days_between(not_after, now),
        lifetime_left_percent=_percent(left, lifetime.total_seconds()), renew_at=iso(not_after - threshold),
        sans=facts["sans"], key_type=facts["key_type"], fingerprint_sha256=facts["fingerprint_sha256"],
    )
    return entry


def _percent(part, whole):
    if whole <= 0:
        return 0.0
    return round(min(100.0, max(0.0, 100.0 * part / whole)), 1)


def sort_key(entry):
    """Soonest expiry first; hosts without a certificate after them, by name."""
    days = entry.get("days_left")
    return (days is None, days if days is not None else 0.0, entry["host"])


def ca_facts(ca_certificate, now):
    facts = describe(ca_certificate)
    not_after = utc(ca_certificate.not_valid_after_utc)
    return {
        "subject": facts["subject"], "serial": facts["serial"], "not_before": facts["not_before"],
        "not_after": facts["not_after"], "days_left": days_between(not_after, now),
        "fingerprint_sha256": facts["fingerprint_sha256"],
    }


def build_report(entries, ca_certificate, now, pki_dir=None):
    """The whole report as one JSON-ready dict: hosts sorted by days left, counts for every status."""
    hosts = sorted(entries, key=sort_key)
    counts = {status: 0 for status in STATUSES}
    for entry in hosts:
        counts[entry["status"]] += 1
    return {
        "schema": SCHEMA,
        "generated_at": iso(now),
        "generated_timestamp": int(utc(now).timestamp()),
        "pki_dir": pki_dir,
        "ca": ca_facts(ca_certificate, now),
        "counts": counts,
        "total": len(hosts),
        "hosts": hosts,
    }


def to_json(report):
    return json.dumps(report, indent=2) + "\n"


# Prometheus text exposition format (what node_exporter's textfile collector reads).

METRICS = (
    ("fleet_pki_report_generated_timestamp_seconds", "Unix time at which fleet.pki wrote this report."),
    ("fleet_pki_ca_expiry_timestamp_seconds", "Unix time at which the fleet CA certificate expires."),
    ("fleet_pki_ca_days_left", "Days until the fleet CA certificate expires (negative once expired)."),
    ("fleet_pki_certificate_expiry_timestamp_seconds", "Unix time at which the certificate a host holds expires."),
    ("fleet_pki_certificate_days_left", "Days until the certificate a host holds expires (negative once expired)."),
    ("fleet_pki_certificate_lifetime_left_ratio", "Share of its lifetime the certificate a host holds has left (0 to 1)."),
    ("fleet_pki_certificate_renewal_timestamp_seconds",
     "Unix time from which the certificate is inside renew_before (provision renews it from then on)."),
    ("fleet_pki_certificate_status", "1 for the host's current status, 0 for the others (" + ", ".join(STATUSES) + ")."),
    ("fleet_pki_hosts", "Number of hosts per status in this report."),
)


def _label_value(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels):
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_label_value(value)}"' for name, value in labels.items()) + "}"


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    return repr(value)


def _timestamp(text):
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())


def to_prometheus(report):
    """The report as a Prometheus textfile: HELP and TYPE for every family, every family's samples together."""
    samples = {name: [] for name, _help in METRICS}
    samples["fleet_pki_report_generated_timestamp_seconds"].append(("", report["generated_timestamp"]))
    ca = report["ca"]
    samples["fleet_pki_ca_expiry_timestamp_seconds"].append((_labels(subject=ca["subject"]), _timestamp(ca["not_after"])))
    samples["fleet_pki_ca_days_left"].append((_labels(subject=ca["subject"]), ca["days_left"]))
    for entry in report["hosts"]:
        if entry["not_after"]:
            labels = _labels(host=entry["host"], serial=entry["serial"])
            samples["fleet_pki_certificate_expiry_timestamp_seconds"].append((labels, _timestamp(entry["not_after"])))
            samples["fleet_pki_certificate_days_left"].append((labels, entry["days_left"]))
            samples["fleet_pki_certificate_lifetime_left_ratio"].append((labels, round(entry["lifetime_left_percent"] / 100.0, 3)))
            samples["fleet_pki_certificate_renewal_timestamp_seconds"].append((labels, _timestamp(entry["renew_at"])))
        for status in STATUSES:
            samples["fleet_pki_certificate_status"].append(
                (_labels(host=entry["host"], status=status), int(entry["status"] == status)))
    for status in STATUSES:
        samples["fleet_pki_hosts"].append((_labels(status=status), report["counts"][status]))
    lines = []
    for name, help_text in METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines += [f"{name}{labels} {_number(value)}" for labels, value in samples[name]]
    return "\n".join(lines) + "\n"
