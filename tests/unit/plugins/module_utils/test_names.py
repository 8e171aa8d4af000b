# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._names import (
    derive_sans, normalise_dns_name, normalise_sans, san_from_address, san_strings,
)


@pytest.mark.parametrize("address, expected", [
    ("192.0.2.10", ("IP", "192.0.2.10")),
    ("2001:0db8:0000:0000:0000:0000:0000:0001", ("IP", "2001:db8::1")),
    ("[2001:db8::1]", ("IP", "2001:db8::1")),
    ("::FFFF:192.0.2.1", ("IP", "::ffff:c000:201")),
    ("Cam-01.Example.NET.", ("DNS", "cam-01.example.net")),
    ("localhost", ("DNS", "localhost")),
])
def test_ansible_host_becomes_ip_or_dns_san(address, expected):
    assert san_from_address(address) == expected


@pytest.mark.parametrize("address, message", [
    ("192.0.2.300", "numeric"),
    ("cam_01.example", "label 'cam_01'"),
    ("-cam.example", "label '-cam'"),
    ("exa mple.com", "label 'exa mple'"),
    ("ka\u0308se.example", "punycode"),
    ("a" * 64 + ".example", "label"),
    ("x." * 130 + "example", "characters long"),
    ("*.example.com", "wildcard"),
    ("fe80::1%eth0", "zone index"),
    ("", "empty"),
])
def test_bad_ansible_host_is_refused_with_the_value(address, message):
    with pytest.raises(FleetPkiError) as error:
        san_from_address(address)
    assert message in str(error.value)


def test_derive_sans_merges_dedups_and_sorts():
    sans = derive_sans("10.0.0.5", ["2001:db8::1", "10.0.0.5", "2001:DB8:0:0::1"], ["B.example", "a.example"])
    assert san_strings(sans) == ["IP:10.0.0.5", "IP:2001:db8::1", "DNS:a.example", "DNS:b.example"]


def test_derive_sans_allows_wildcards_in_extra_dns_names():
    assert derive_sans("dev1.example", dns_names=["*.dev1.example"]) == (("DNS", "*.dev1.example"), ("DNS", "dev1.example"))


def test_derive_sans_refuses_a_bad_extra_ip_with_the_value():
    with pytest.raises(FleetPkiError, match="fleet_pki_ip_addresses entry 'not-an-ip'"):
        derive_sans("10.0.0.5", ["not-an-ip"])


def test_derive_sans_needs_at_least_one_name():
    with pytest.raises(FleetPkiError, match="no SAN"):
        derive_sans(None)


def test_ipv6_spellings_compare_equal():
    assert normalise_sans([("IP", "2001:db8:0:0:0:0:0:1"), ("DNS", "A.example.")]) == \
        normalise_sans([("DNS", "a.example"), ("IP", "2001:db8::1")])


def test_normalise_dns_name_limits():
    assert normalise_dns_name("a" * 63 + ".example") == "a" * 63 + ".example"
    with pytest.raises(FleetPkiError):
        normalise_dns_name("example.123")
