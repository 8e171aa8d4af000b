# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Name constraints on the CA: the `private` preset, the extension, and the refusal before signing of a name that
clients would reject.

Chrome 112+, Firefox and OpenSSL enforce them on local roots, so a fleet CA in a browser cannot
vouch for other sites. A catch-all range (0.0.0.0/0, ::/0) is refused: it protects nothing and
`::/0` is known to break macOS clients. The constraints are written into the CA certificate when
the CA is created; other constraints mean another CA (docs/name-constraints.md).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.fleet.pki.plugins.module_utils._crypto import x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._names import normalise_dns_name
from ansible_collections.fleet.pki.plugins.module_utils._shown import shown

# Addresses and names that no public site can have: what a private fleet is reached by.
# A domain without a leading dot covers itself and every name below it, in every client.
PRIVATE_NETWORKS = (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # RFC 6598 shared address space: carrier-grade NAT, overlay networks such as Tailscale
    "169.254.0.0/16",  # RFC 3927 link-local: a device that found no DHCP server
    "127.0.0.0/8",  # loopback
    "fc00::/7",  # RFC 4193 unique local addresses
    "fe80::/10",  # IPv6 link-local
    "::1/128",  # IPv6 loopback
)
PRIVATE_DOMAINS = (
    "internal",  # reserved by ICANN for private use (2024)
    "home.arpa",  # RFC 8375, home networks
    "local",  # RFC 6762, multicast DNS
    "lan",  # not reserved, but the default of many routers (OpenWrt); never delegated
    "localhost", "test",  # RFC 6761
)
PRESETS = {"none": ((), ()), "private": (PRIVATE_NETWORKS, PRIVATE_DOMAINS)}

# OpenSSL's cn2dnsid(): letters, digits and '_', with inner '-' and '.', and at least one '.'.
_OPENSSL_DNS_ID = re.compile(r"^[A-Za-z0-9_]+(?:-+[A-Za-z0-9_]+)*(?:\.[A-Za-z0-9_]+(?:-+[A-Za-z0-9_]+)*)+$")


def expand_preset(preset=None, permitted_ip_networks=(), permitted_dns_domains=()):
    """The preset's subtrees, then the caller's own, each once and validated: (networks, domains) as strings."""
    name = "none" if preset in (None, "") else preset
    if name not in PRESETS:
        raise FleetPkiError(f"name_constraints preset {shown(preset)} is not one of {', '.join(PRESETS)}")
    preset_networks, preset_domains = PRESETS[name]
    networks, domains = normalise_constraints((*preset_networks, *(permitted_ip_networks or ())),
                                              (*preset_domains, *(permitted_dns_domains or ())))
    return tuple(dict.fromkeys(str(network) for network in networks)), tuple(dict.fromkeys(domains))


def normalise_constraints(permitted_ip_networks=(), permitted_dns_domains=()):
    """Validate user input; return (networks, domains) in canonical form."""
    networks = []
    for value in permitted_ip_networks or ():
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=True)
        except ValueError as exc:
            raise FleetPkiError(f"name_constraints permitted IP network '{value}' is not valid: {exc}") from None
        if network.prefixlen == 0:
            raise FleetPkiError(f"name_constraints permitted IP network '{value}' permits everything; drop it or narrow it")
        networks.append(network)
    domains = []
    for value in permitted_dns_domains or ():
        text = str(value).strip()
        leading_dot = text.startswith(".")
        try:
            name = normalise_dns_name(text.lstrip("."), allow_wildcard=False)
        except FleetPkiError as exc:
            raise FleetPkiError(f"name_constraints permitted DNS domain {exc}") from None
        domains.append("." + name if leading_dot else name)
    return networks, domains


def build_extension(networks, domains):
    if not networks and not domains:
        return None
    permitted = [x509.IPAddress(network) for network in networks] + [x509.DNSName(domain) for domain in domains]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)


def constraints_of(ca_certificate):
    """(networks, domains) permitted by the CA certificate, or None when it has no constraints."""
    try:
        extension = ca_certificate.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    networks, domains = [], []
    for subtree in extension.permitted_subtrees or ():
        if isinstance(subtree, x509.IPAddress):
            networks.append(subtree.value)
        elif isinstance(subtree, x509.DNSName):
            domains.append(subtree.value.lower())
    return networks, domains


def refuse_outside(sans, constraints, common_name=None):
    """Raise for the first name that the constraints leave out. A name type with no subtree is unconstrained.

    With no DNS SAN, OpenSSL also matches a CN that looks like a DNS name (`cam-05.plant.example`, and
    `10.0.0.5` too) against the DNS subtrees, and rejects the certificate when it is outside: so the CN
    is checked here the same way. A single-label CN (`cam-05`) is never checked.
    """
    if constraints is None:
        return
    networks, domains = constraints
    for kind, value in sans:
        if kind == "IP" and networks:
            address = ipaddress.ip_address(value)
            if not any(address.version == net.version and address in net for net in networks):
                allowed = ", ".join(str(net) for net in networks)
                raise FleetPkiError(f"SAN IP:{value} is outside the CA's name constraints (permitted: {allowed})")
        if kind == "DNS" and domains:
            if not any(_dns_within(value.lower(), domain) for domain in domains):
                raise FleetPkiError(
                    f"SAN DNS:{value} is outside the CA's name constraints (permitted: {', '.join(domains)})"
                )
    if domains and common_name and not any(kind == "DNS" for kind, _value in sans):
        dns_id = openssl_dns_id(common_name)
        if dns_id is not None and not any(_dns_within(dns_id, domain) for domain in domains):
            raise FleetPkiError(
                f"CN {shown(common_name)} is outside the CA's name constraints (permitted: {', '.join(domains)}): "
                "OpenSSL checks a CN that looks like a DNS name when the certificate has no DNS SAN, so curl and "
                "Python would reject the certificate; give the host a DNS name inside them (fleet_pki_dns_names)"
            )


def openssl_dns_id(common_name):
    """The CN as OpenSSL reads it for DNS name constraints (lower case), or None when OpenSSL does not check it."""
    text = str(common_name)
    return text.lower() if _OPENSSL_DNS_ID.match(text) else None


def _dns_within(name, domain):
    """RFC 5280 matching: `domain` covers itself and every name below it; `.domain` only the names below it.

    A wildcard is matched as it is written (`*.cams.internal` lies below `cams.internal`), as OpenSSL and
    Chrome do: every name it stands for is then inside the subtree too.
    """
    if domain.startswith("."):
        return name.endswith(domain)
    return name == domain or name.endswith("." + domain)
