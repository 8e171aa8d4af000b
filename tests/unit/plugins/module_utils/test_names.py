# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import ipaddress

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


def test_sans_from_a_certificate_sort_addresses_by_value_before_names():
    # A certificate's IP SANs arrive as ipaddress objects; 10.0.0.9 sorts before 10.0.0.10 (not as text).
    sans = [("DNS", "b.example"), ("IP", ipaddress.ip_address("10.0.0.10")), ("IP", "10.0.0.9"),
            ("IP", ipaddress.ip_address("::1")), ("DNS", "A.example")]
    assert normalise_sans(sans) == (("IP", "10.0.0.9"), ("IP", "10.0.0.10"), ("IP", "::1"),
                                    ("DNS", "a.example"), ("DNS", "b.example"))


def test_normalise_dns_name_limits():
    assert normalise_dns_name("a" * 63 + ".example") == "a" * 63 + ".example"
    with pytest.raises(FleetPkiError):
        normalise_dns_name("example.123")


# Hostile and broken names (issue 8): each error names the field and shows the value, printable and bounded.
@pytest.mark.parametrize("kwargs, message", [
    (dict(ansible_host="b\u00fccher.example"), "ansible_host 'b\u00fccher.example' is an internationalised name; give its ASCII"),
    (dict(ansible_host="10.0.0.1", dns_names=["\u0441am.example"]),  # a Cyrillic 'с' that looks like 'c'
     "fleet_pki_dns_names entry '\u0441am.example' is an internationalised name"),
    (dict(ansible_host="a" * 64 + ".example"), "label '" + "a" * 64 + "' must be 1-63"),
    (dict(ansible_host="10.0.0.1", dns_names=["a" * 64]), "fleet_pki_dns_names entry '" + "a" * 64 + "' is not a valid"),
    (dict(ansible_host=".".join(["a" * 63] * 4)), "is 255 characters long; a DNS name has at most 253"),
    (dict(ansible_host="a..example"), "label '' must be 1-63"),
    (dict(ansible_host="dev1.example\nok: [dev9]"), "ansible_host 'dev1.example\\nok: [dev9]' is not a valid DNS name"),
    (dict(ansible_host="dev1\x1b[31m.example"), "ansible_host 'dev1\\x1b[31m.example'"),
    (dict(ansible_host="10.0.0.1/24"), "ansible_host '10.0.0.1/24' is not a valid DNS name"),
    (dict(ansible_host="0.0.0.0"), "ansible_host '0.0.0.0' is the unspecified address"),
    (dict(ansible_host="10.0.0.1", ip_addresses=["::"]), "fleet_pki_ip_addresses entry '::' is the unspecified address"),
    (dict(ansible_host="224.0.0.251"), "ansible_host '224.0.0.251' is a multicast address"),
    (dict(ansible_host="10.0.0.1", ip_addresses=["fe80::1%eth0"]), "fleet_pki_ip_addresses entry 'fe80::1%eth0' has an IPv6 zone"),
    (dict(ansible_host="fe80::1%eth0"), "ansible_host 'fe80::1%eth0' has an IPv6 zone index"),
    (dict(ansible_host="10.0.0.1", ip_addresses=["10.0.0.256"]), "fleet_pki_ip_addresses entry '10.0.0.256' is not an IP address"),
    (dict(ansible_host="10.0.0.1", ip_addresses=["dev1.example"]), "fleet_pki_ip_addresses entry 'dev1.example' is not an IP"),
    (dict(ansible_host="10.0.0.1", dns_names=["10.0.0.2"]), "fleet_pki_dns_names entry '10.0.0.2' is neither"),
    (dict(ansible_host="10.0.0.1", dns_names=["*.*.example.com"]), "label '*' must be"),
    (dict(ansible_host="*.example.com"), "ansible_host '*.example.com' is a wildcard that is not allowed here"),
])
def test_hostile_names_are_refused_with_the_field_and_the_value(kwargs, message):
    with pytest.raises(FleetPkiError) as error:
        derive_sans(**kwargs)
    assert message in str(error.value)
    assert "\n" not in str(error.value) and "\x1b" not in str(error.value)  # no forged log lines or terminal codes


def test_a_huge_value_is_cut_in_the_message():
    with pytest.raises(FleetPkiError) as error:
        derive_sans("x" * 10000)
    assert "is 10000 characters long" in str(error.value) and len(str(error.value)) < 200


@pytest.mark.parametrize("name", [".".join(["a" * 63] * 3 + ["a" * 61]), "a" * 63 + ".example."])
def test_names_at_the_limits_are_accepted(name):
    assert derive_sans(name) == (("DNS", name.rstrip(".")),)
