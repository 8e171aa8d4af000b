# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import duplicate_ip_errors, host_settings
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import RenewBefore


def test_defaults():
    settings = host_settings("cam-01", ansible_host="192.0.2.11")
    assert settings.sans == (("IP", "192.0.2.11"),)
    assert (settings.profile, settings.key_type, settings.validity_days) == ("server", "ec-p256", 365)
    assert settings.renew_before == RenewBefore(percent=33)
    assert (settings.delivery, settings.key_location, settings.common_name) == ("device", "controller", "cam-01")


@pytest.mark.parametrize("knobs, message", [
    (dict(ansible_host="300.1.2.3"), "host cam-01: ansible_host '300.1.2.3' is neither a valid IP address nor a DNS name"),
    (dict(ansible_host="cam 01"), "host cam-01: ansible_host 'cam 01' is not a valid DNS name"),
    (dict(ansible_host="10.0.0.1", key_type="rsa-1024"), "host cam-01: key type 'rsa-1024' is refused: RSA below 2048"),
    (dict(ansible_host="10.0.0.1", validity_days=826), "host cam-01: validity_days 826 is over 825: Apple"),
    (dict(ansible_host="10.0.0.1", validity_days=-5), "host cam-01: validity_days -5 must be at least 1"),
    (dict(ansible_host="10.0.0.1", validity_days="long"), "host cam-01: validity_days 'long' is not a whole number"),
    (dict(ansible_host="10.0.0.1", profile="web"), "host cam-01: profile 'web' is not one of"),
    (dict(ansible_host="10.0.0.1", delivery="email"), "host cam-01: delivery 'email' is not one of"),
    (dict(ansible_host="10.0.0.1", ip_addresses="10.0.0.2"), "must be a list, not the string '10.0.0.2'"),
    (dict(ansible_host="10.0.0.1", renew_before="400"), "not shorter than validity_days 365"),
    (dict(ansible_host="10.0.0.1", key_location="device", delivery="artifacts"),
     "host cam-01: key_location 'device' needs delivery 'device', not 'artifacts'"),
    (dict(ansible_host="10.0.0.1", key_location="usb"), "host cam-01: key_location 'usb' is not one of"),
])
def test_bad_knobs_name_the_host_and_the_value(knobs, message):
    with pytest.raises(FleetPkiError) as error:
        host_settings("cam-01", **knobs)
    assert message in str(error.value)


def test_duplicate_ips_name_every_claimant_and_ipv6_spellings_collide():
    fleet = [host_settings("a", ansible_host="10.0.0.1"), host_settings("b", ansible_host="10.0.0.2"),
             host_settings("c", ansible_host="10.0.0.3", ip_addresses=["2001:db8::1"]),
             host_settings("d", ansible_host="10.0.0.1", ip_addresses=["2001:DB8:0::1"])]
    assert sorted(duplicate_ip_errors(fleet)) == [
        "IP 10.0.0.1 is claimed by more than one host: a, d",
        "IP 2001:db8::1 is claimed by more than one host: c, d",
    ]


def test_no_duplicates_in_a_clean_fleet():
    assert duplicate_ip_errors([host_settings(f"d{n}", ansible_host=f"10.0.0.{n}") for n in range(1, 50)]) == []


# Hostile knobs (issue 8): every error names the host and the value; the inventory's YAML types cannot sneak through.
@pytest.mark.parametrize("knobs, message", [
    (dict(ansible_host="10.0.0.1", key_type="ed25519"), "host cam-01: key type 'ed25519' is not one of ec-p256"),
    (dict(ansible_host="10.0.0.1", key_type="rsa1024"), "host cam-01: key type 'rsa1024' is refused: RSA below 2048"),
    (dict(ansible_host="10.0.0.1", key_type="RSA-512"), "host cam-01: key type 'RSA-512' is refused: RSA below 2048"),
    (dict(ansible_host="10.0.0.1", key_type="ec-p192"), "host cam-01: key type 'ec-p192' is refused: browsers accept no EC"),
    (dict(ansible_host="10.0.0.1", key_type="secp224r1"), "host cam-01: key type 'secp224r1' is refused"),
    (dict(ansible_host="10.0.0.1", key_type="dsa-2048"), "host cam-01: key type 'dsa-2048' is not one of ec-p256"),
    (dict(ansible_host="10.0.0.1", key_type=2048), "host cam-01: key type '2048' is not one of"),
    (dict(ansible_host="10.0.0.1", validity_days=0), "host cam-01: validity_days 0 must be at least 1"),
    (dict(ansible_host="10.0.0.1", validity_days=-365), "host cam-01: validity_days -365 must be at least 1"),
    (dict(ansible_host="10.0.0.1", validity_days=10 ** 6), "host cam-01: validity_days 1000000 is over 825"),
    (dict(ansible_host="10.0.0.1", validity_days=True), "host cam-01: validity_days 'True' is not a whole number"),
    (dict(ansible_host="10.0.0.1", validity_days=1.5), "host cam-01: validity_days '1.5' is not a whole number"),
    (dict(ansible_host="10.0.0.1", validity_days="nan"), "host cam-01: validity_days 'nan' is not a whole number"),
    (dict(ansible_host="10.0.0.1", ip_addresses=5), "host cam-01: fleet_pki_ip_addresses must be a list, not '5'"),
    (dict(ansible_host="10.0.0.1", ip_addresses={"10.0.0.2": 1}), "host cam-01: fleet_pki_ip_addresses must be a list, not"),
    (dict(ansible_host="10.0.0.1", dns_names=True), "host cam-01: fleet_pki_dns_names must be a list, not 'True'"),
    (dict(ansible_host="10.0.0.1", dns_names=["b\u00fccher.example"]),
     "host cam-01: fleet_pki_dns_names entry 'b\u00fccher.example' is an internationalised name"),
    (dict(ansible_host="10.0.0.1", ip_addresses=["10.0.0.999"]), "host cam-01: fleet_pki_ip_addresses entry '10.0.0.999'"),
    (dict(ansible_host="x" * 300), "host cam-01: ansible_host '" + "x" * 40 + "...' is 300 characters long"),
    (dict(ansible_host="10.0.0.1", delivery="device\nok: [dev9]"), "host cam-01: delivery 'device\\nok: [dev9]' is not one of"),
])
def test_hostile_knobs_name_the_host_and_the_value(knobs, message):
    with pytest.raises(FleetPkiError) as error:
        host_settings("cam-01", **knobs)
    assert message in str(error.value)


def test_duplicate_ips_from_every_source_collide():
    fleet = [host_settings("a", ansible_host="a.fleet.example", ip_addresses=["10.0.0.7"]),
             host_settings("b", ansible_host="10.0.0.7"),
             host_settings("c", ansible_host="10.0.0.8", ip_addresses=["10.0.0.7", "10.0.0.7"])]  # twice in one host: once
    assert duplicate_ip_errors(fleet) == ["IP 10.0.0.7 is claimed by more than one host: a, b, c"]
