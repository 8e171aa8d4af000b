# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Subject alternative names: derive them from the inventory, validate and normalise them.

A SAN is a pair ("IP", "<compressed address>") or ("DNS", "<lower-case ASCII name>"). Sets of SANs
are compared as sorted tuples, so IPv6 spellings and ordering never cause a re-issue.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._shown import shown

MAX_DNS_NAME_LENGTH = 253
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def parse_ip(value):
    """Return an ip_address for an IPv4/IPv6 literal (brackets allowed), or None."""
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:
        raise FleetPkiError(f"{shown(value)} has an IPv6 zone index; certificates cannot carry one")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def normalise_dns_name(value, allow_wildcard=True):
    """Return the canonical form of a DNS name, or raise FleetPkiError saying what is wrong."""
    if not isinstance(value, str) or not value.strip():
        raise FleetPkiError(f"{shown(value)} is not a DNS name: it is empty or not a string")
    name = value.strip().rstrip(".").lower()
    if not name.isascii():
        raise FleetPkiError(
            f"{shown(value)} is an internationalised name; give its ASCII (punycode, xn--...) form instead"
        )
    if len(name) > MAX_DNS_NAME_LENGTH:
        raise FleetPkiError(f"{shown(value, 40)} is {len(name)} characters long; a DNS name has at most {MAX_DNS_NAME_LENGTH}")
    labels = name.split(".")
    if labels[0] == "*":
        if not allow_wildcard or len(labels) < 3:
            raise FleetPkiError(f"{shown(value)} is a wildcard that is not allowed here")
        labels = labels[1:]
    for label in labels:
        if not _LABEL.match(label):
            raise FleetPkiError(
                f"{shown(value)} is not a valid DNS name: label {shown(label)} must be 1-63 letters, digits or inner hyphens"
            )
    if labels[-1].isdigit():
        raise FleetPkiError(f"{shown(value)} is neither a valid IP address nor a DNS name (its last label is numeric)")
    return name


def san_from_address(value):
    """Classify one inventory address (like ansible_host): an IP becomes an IP SAN, a name a DNS SAN."""
    try:
        address = parse_ip(value)
        if address is not None:
            return ("IP", usable_address(address, value))
        return ("DNS", normalise_dns_name(value, allow_wildcard=False))
    except FleetPkiError as exc:
        raise FleetPkiError(f"ansible_host {exc}") from None


def usable_address(address, value):
    """The compressed form of an IP that a client can reach a device by, or raise naming `value`."""
    if address.is_unspecified or address.is_multicast:
        kind = "the unspecified address" if address.is_unspecified else "a multicast address"
        raise FleetPkiError(f"{shown(value)} is {kind}; no client reaches a device by it")
    return address.compressed


def _sort_key(san, address=None):
    """IP SANs first, by version and value; then DNS names. `address`: the IP already parsed."""
    kind, value = san
    if kind == "IP":
        address = address or ipaddress.ip_address(value)
        return (0, address.version, int(address), "")
    return (1, 0, 0, value)


def derive_sans(ansible_host=None, ip_addresses=(), dns_names=()):
    """The SANs a host's certificate must carry, from what the inventory already says."""
    sans = set()
    if ansible_host not in (None, ""):
        sans.add(san_from_address(ansible_host))
    for value in ip_addresses or ():
        try:
            address = parse_ip(value)
            if address is None:
                raise FleetPkiError(f"{shown(value)} is not an IP address")
            sans.add(("IP", usable_address(address, value)))
        except FleetPkiError as exc:
            raise FleetPkiError(f"fleet_pki_ip_addresses entry {exc}") from None
    for value in dns_names or ():
        try:
            sans.add(("DNS", normalise_dns_name(value)))
        except FleetPkiError as exc:
            raise FleetPkiError(f"fleet_pki_dns_names entry {exc}") from None
    if not sans:
        raise FleetPkiError("no SAN: set ansible_host, fleet_pki_ip_addresses or fleet_pki_dns_names")
    return tuple(sorted(sans, key=_sort_key))


def normalise_sans(sans):
    """Canonical sorted tuple for SANs read back from a certificate. IP values may be strings or ipaddress objects.

    Every address is parsed once: this runs for each certificate a fleet holds, on every run.
    """
    keyed = {}
    for kind, value in sans:
        if kind == "IP":
            address = value if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else ipaddress.ip_address(value)
            san = ("IP", address.compressed)
        else:
            san, address = ("DNS", value.lower().rstrip(".")), None
        keyed[san] = _sort_key(san, address)
    return tuple(sorted(keyed, key=keyed.get))


def san_strings(sans):
    return [f"{kind}:{value}" for kind, value in sans]


def ip_sans(sans):
    return [value for kind, value in sans if kind == "IP"]
