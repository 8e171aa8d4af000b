# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""What one host's certificate must be, from its inventory knobs, validated with errors that name the host."""

from __future__ import annotations

import collections.abc
import dataclasses

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, leaf_common_name
from ansible_collections.fleet.pki.plugins.module_utils._key_types import DEFAULT_KEY_TYPE, validate_key_type
from ansible_collections.fleet.pki.plugins.module_utils._names import derive_sans, ip_sans
from ansible_collections.fleet.pki.plugins.module_utils._profiles import (
    DEFAULT_LEAF_VALIDITY_DAYS, DEFAULT_PROFILE, validate_leaf_validity, validate_profile,
)
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import Wanted, parse_renew_before
from ansible_collections.fleet.pki.plugins.module_utils._shown import shown

DELIVERIES = ("device", "artifacts")
KEY_LOCATIONS = ("controller", "device")


@dataclasses.dataclass(frozen=True)
class HostSettings:
    host: str
    sans: tuple
    common_name: str
    profile: str
    key_type: str
    validity_days: int
    renew_before: object
    delivery: str
    key_location: str

    def wanted(self):
        return Wanted(self.sans, self.common_name, self.profile, self.key_type, self.renew_before)

    def request(self):
        return LeafRequest(self.common_name, self.sans, self.profile, self.validity_days)


def host_settings(host, ansible_host=None, ip_addresses=None, dns_names=None, profile=None, key_type=None,
                  validity_days=None, renew_before=None, delivery=None, key_location=None):
    """Validate one host's knobs (None = not set). Every error names the host."""
    try:
        validity = validate_leaf_validity(DEFAULT_LEAF_VALIDITY_DAYS if validity_days is None else _whole(validity_days))
        settings = HostSettings(
            host=host,
            sans=derive_sans(ansible_host, _as_list(ip_addresses, "fleet_pki_ip_addresses"),
                             _as_list(dns_names, "fleet_pki_dns_names")),
            common_name=leaf_common_name(host),
            profile=validate_profile(profile or DEFAULT_PROFILE),
            key_type=validate_key_type(key_type or DEFAULT_KEY_TYPE),
            validity_days=validity,
            renew_before=parse_renew_before(renew_before, validity),
            delivery=_choice(delivery or "device", DELIVERIES, "delivery"),
            key_location=_choice(key_location or "controller", KEY_LOCATIONS, "key_location"),
        )
    except FleetPkiError as exc:
        raise FleetPkiError(f"host {host}: {exc}") from None
    if settings.key_location == "device" and settings.delivery != "device":
        raise FleetPkiError(
            f"host {host}: key_location 'device' needs delivery 'device', not '{settings.delivery}': an artefact-only "
            "device cannot make its own key, so its key is made on the controller (key_location 'controller')"
        )
    return settings


def duplicate_ip_errors(settings_list):
    """One message per IP that more than one host claims; two devices cannot both be https://<ip>/."""
    owners = {}
    for settings in settings_list:
        for address in ip_sans(settings.sans):
            owners.setdefault(address, []).append(settings.host)
    return [f"IP {address} is claimed by more than one host: {', '.join(hosts)}"
            for address, hosts in owners.items() if len(hosts) > 1]


def _as_list(value, name):
    if value in (None, ""):
        return []
    if isinstance(value, (str, bytes)):
        raise FleetPkiError(f"{name} must be a list, not the string {shown(value)}")
    if isinstance(value, collections.abc.Mapping) or not isinstance(value, collections.abc.Iterable):
        raise FleetPkiError(f"{name} must be a list, not {shown(value)}")
    return list(value)


def _whole(days):
    """A YAML `yes` or `1.5` would otherwise pass as 1 day: only whole numbers (or their text) are days."""
    if isinstance(days, bool) or (isinstance(days, float) and not days.is_integer()):
        raise FleetPkiError(f"validity_days {shown(days)} is not a whole number of days")
    return days


def _choice(value, choices, name):
    if value not in choices:
        raise FleetPkiError(f"{name} {shown(value)} is not one of {', '.join(choices)}")
    return value
