# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Name constraints on the CA: build the extension, and refuse a SAN before signing that clients would reject.

Chrome 112+, Firefox and OpenSSL enforce them on local roots, so a fleet CA in a browser cannot
vouch for other sites. A catch-all range (0.0.0.0/0, ::/0) is refused: it protects nothing and
`::/0` is known to break macOS clients.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.fleet.pki.plugins.module_utils._crypto import x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._names import normalise_dns_name


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


def refuse_outside(sans, constraints):
    """Raise for the first SAN that the constraints leave out. A name type with no subtree is unconstrained."""
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
            name = value[2:] if value.startswith("*.") else value
            if not any(_dns_within(name, domain) for domain in domains):
                raise FleetPkiError(
                    f"SAN DNS:{value} is outside the CA's name constraints (permitted: {', '.join(domains)})"
                )


def _dns_within(name, domain):
    if domain.startswith("."):
        return name.endswith(domain)
    return name == domain or name.endswith("." + domain)
