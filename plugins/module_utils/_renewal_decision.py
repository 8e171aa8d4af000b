# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The issue-or-keep decision: one pure function from what is wanted and what the host holds to reasons.

An empty list means keep. Every reason is a short sentence that starts with a stable key
("missing", "SANs differ", ...), so people can read it and programs can match it.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._names import san_strings

DEFAULT_RENEW_BEFORE = "33%"  # renew once two thirds of the lifetime have passed, like step

# Reason keys, in the order they are reported.
MISSING = "missing"
UNREADABLE = "unreadable"
KEY_MISMATCH = "key mismatch"
NOT_CURRENT_CA = "not signed by the current CA"
SANS_DIFFER = "SANs differ"
SUBJECT_DIFFERS = "subject differs"
PROFILE_DIFFERS = "profile differs"
KEY_TYPE_DIFFERS = "key type differs"
EXPIRING = "expiring"
REVOKED = "revoked"


@dataclasses.dataclass(frozen=True)
class RenewBefore:
    days: float = None
    percent: float = None

    def threshold(self, lifetime):
        """How much remaining lifetime triggers renewal."""
        if self.percent is not None:
            return lifetime * (self.percent / 100.0)
        return datetime.timedelta(days=self.days)

    def __str__(self):
        return f"{self.percent:g}% of the lifetime" if self.percent is not None else f"{self.days:g} days"


def parse_renew_before(value, validity_days):
    """'30' or 30 -> 30 days; '25%' -> a quarter of the lifetime. Refuses thresholds that would renew every run."""
    text = str(DEFAULT_RENEW_BEFORE if value in (None, "") else value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%|d|days?)?", text)
    if not match:
        raise FleetPkiError(f"renew_before '{value}' is neither a number of days nor a percentage like '33%'")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "%":
        if not 0 <= number < 100:
            raise FleetPkiError(f"renew_before '{value}' must be a percentage below 100%")
        return RenewBefore(percent=number)
    if number >= validity_days:
        raise FleetPkiError(
            f"renew_before '{value}' is not shorter than validity_days {validity_days}: every run would re-issue"
        )
    return RenewBefore(days=number)


@dataclasses.dataclass(frozen=True)
class Wanted:
    sans: tuple
    common_name: str
    profile: str
    key_type: str
    renew_before: RenewBefore


@dataclasses.dataclass(frozen=True)
class Held:
    """What the host holds. `state` is 'present', 'missing' or 'unreadable'.

    `key_state` is 'matches', 'mismatch', 'missing', 'unreadable' or 'unknown' (the host could not tell).
    """

    state: str
    key_state: str = "unknown"
    detail: str = ""
    sans: tuple = ()
    common_name: str = ""
    profile: str = None
    key_type: str = ""
    serial: str = ""
    not_before: datetime.datetime = None
    not_after: datetime.datetime = None
    issued_by_current_ca: bool = False


def reasons_to_issue(wanted, held, now, revoked_serials=frozenset()):
    """The reasons to issue a new certificate; [] means keep the one the host holds."""
    if held.state == MISSING:
        return [MISSING + (f": {held.detail}" if held.detail else "")]
    if held.state == UNREADABLE:
        return [UNREADABLE + (f": {held.detail}" if held.detail else "")]
    reasons = []
    if held.key_state == "missing":
        reasons.append(MISSING + ": the private key is missing")
    elif held.key_state == "unreadable":
        reasons.append(UNREADABLE + ": the private key cannot be read")
    elif held.key_state == "mismatch":
        reasons.append(KEY_MISMATCH + ": the private key does not belong to the certificate")
    if not held.issued_by_current_ca:
        reasons.append(NOT_CURRENT_CA)
    if tuple(held.sans) != tuple(wanted.sans):
        reasons.append(_sans_reason(held.sans, wanted.sans))
    if held.common_name != wanted.common_name:
        reasons.append(f"{SUBJECT_DIFFERS}: CN '{held.common_name}' -> '{wanted.common_name}'")
    if held.profile != wanted.profile:
        reasons.append(f"{PROFILE_DIFFERS}: {held.profile or 'other'} -> {wanted.profile}")
    if held.key_type != wanted.key_type:
        reasons.append(f"{KEY_TYPE_DIFFERS}: {held.key_type} -> {wanted.key_type}")
    remaining = held.not_after - now
    if remaining <= datetime.timedelta(0):
        reasons.append(f"{EXPIRING}: expired on {held.not_after:%Y-%m-%d}")
    elif remaining < wanted.renew_before.threshold(held.not_after - held.not_before):
        reasons.append(
            f"{EXPIRING}: {_days(remaining)} left, renew_before is {wanted.renew_before}"
        )
    if held.serial and held.serial.upper() in revoked_serials:
        reasons.append(f"{REVOKED}: serial {held.serial}")
    return reasons


def _sans_reason(held, wanted):
    added = [s for s in san_strings(wanted) if s not in san_strings(held)]
    removed = [s for s in san_strings(held) if s not in san_strings(wanted)]
    parts = [f"+{s}" for s in added] + [f"-{s}" for s in removed]
    return f"{SANS_DIFFER}: {' '.join(parts)}"


def _days(delta):
    days = delta.total_seconds() / 86400
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"
