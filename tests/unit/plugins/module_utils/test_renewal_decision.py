# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import dataclasses
import datetime

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import (
    Held, RenewBefore, Wanted, parse_renew_before, reasons_to_issue,
)

NOW = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
SANS = (("IP", "192.0.2.10"), ("IP", "2001:db8::1"))
WANTED = Wanted(sans=SANS, common_name="cam-01", profile="server", key_type="ec-p256",
                renew_before=RenewBefore(percent=33))
GOOD = Held(state="present", key_state="matches", sans=SANS, common_name="cam-01", profile="server",
            key_type="ec-p256", serial="0A1B", not_before=NOW - 10 * DAY, not_after=NOW + 355 * DAY,
            issued_by_current_ca=True)


def reasons(held=GOOD, wanted=WANTED, revoked=frozenset()):
    return reasons_to_issue(wanted, held, NOW, revoked)


def test_a_good_certificate_is_kept():
    assert reasons() == []


@pytest.mark.parametrize("held, expected", [
    (Held(state="missing", detail="no certificate on the host"), "missing: no certificate on the host"),
    (Held(state="unreadable", detail="garbage"), "unreadable: garbage"),
    (dataclasses.replace(GOOD, key_state="missing"), "missing: the private key is missing"),
    (dataclasses.replace(GOOD, key_state="unreadable"), "unreadable: the private key cannot be read"),
    (dataclasses.replace(GOOD, key_state="mismatch"), "key mismatch: the private key does not belong to the certificate"),
    (dataclasses.replace(GOOD, issued_by_current_ca=False), "not signed by the current CA"),
    (dataclasses.replace(GOOD, sans=(("IP", "192.0.2.9"), ("IP", "2001:db8::1"))), "SANs differ: +IP:192.0.2.10 -IP:192.0.2.9"),
    (dataclasses.replace(GOOD, common_name="old-name"), "subject differs: CN 'old-name' -> 'cam-01'"),
    (dataclasses.replace(GOOD, profile="client"), "profile differs: client -> server"),
    (dataclasses.replace(GOOD, profile=None), "profile differs: other -> server"),
    (dataclasses.replace(GOOD, key_type="rsa-2048"), "key type differs: rsa-2048 -> ec-p256"),
    (dataclasses.replace(GOOD, not_after=NOW - DAY), "expiring: expired on 2026-11-25"),
    (dataclasses.replace(GOOD, not_before=NOW - 300 * DAY, not_after=NOW + 65 * DAY), "expiring: 65 days left, renew_before is 33% of the lifetime"),
])
def test_every_reason(held, expected):
    assert reasons(held) == [expected]


def test_revoked_serial_is_a_reason():
    assert reasons(revoked=frozenset({"0A1B"})) == ["revoked: serial 0A1B"]


def test_several_reasons_are_all_reported():
    held = dataclasses.replace(GOOD, sans=(("IP", "192.0.2.9"),), key_type="rsa-2048", issued_by_current_ca=False)
    assert [reason.split(":", maxsplit=1)[0] for reason in reasons(held)] == [
        "not signed by the current CA", "SANs differ", "key type differs"]


def test_unknown_key_state_is_not_a_reason():
    assert reasons(dataclasses.replace(GOOD, key_state="unknown")) == []


def test_renew_before_in_days():
    wanted = dataclasses.replace(WANTED, renew_before=RenewBefore(days=30))
    assert reasons(dataclasses.replace(GOOD, not_after=NOW + 31 * DAY), wanted) == []
    assert reasons(dataclasses.replace(GOOD, not_after=NOW + 29 * DAY), wanted) == [
        "expiring: 29 days left, renew_before is 30 days"]


def test_percentage_is_of_the_certificates_own_lifetime():
    # A 10-day certificate with 3 days left is inside 33%; a 365-day one with 3 days left too.
    short = dataclasses.replace(GOOD, not_before=NOW - 7 * DAY, not_after=NOW + 3 * DAY)
    assert reasons(short)[0].startswith("expiring: 3.0 days left")
    fresh = dataclasses.replace(GOOD, not_before=NOW - 1 * DAY, not_after=NOW + 9 * DAY)
    assert reasons(fresh) == []


@pytest.mark.parametrize("value, expected", [
    (None, RenewBefore(percent=33)),
    ("", RenewBefore(percent=33)),
    ("30", RenewBefore(days=30)),
    (30, RenewBefore(days=30)),
    ("14d", RenewBefore(days=14)),
    ("25%", RenewBefore(percent=25)),
    ("12.5 %", RenewBefore(percent=12.5)),
])
def test_parse_renew_before(value, expected):
    assert parse_renew_before(value, 365) == expected


@pytest.mark.parametrize("value, message", [
    ("soon", "neither a number of days nor a percentage"),
    ("100%", "below 100%"),
    ("365", "not shorter than validity_days 365"),
    ("-3", "neither"),
])
def test_parse_renew_before_refuses(value, message):
    with pytest.raises(FleetPkiError, match=message):
        parse_renew_before(value, 365)
