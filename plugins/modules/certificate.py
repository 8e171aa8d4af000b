#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate
short_description: Issue or keep, and deliver, the TLS certificate of the current inventory host
version_added: 0.1.0
description:
  - Decides whether the current host needs a new certificate, issues it under the fleet CA if so, and delivers the
    private key, certificate, chain and full chain to the host (or, with O(delivery=artifacts), writes them into the
    PKI directory only).
  - The decision compares what the host holds with what the inventory wants. The reasons to issue are
    C(missing), C(unreadable), C(key mismatch), C(not signed by the current CA), C(SANs differ), C(subject differs),
    C(profile differs), C(key type differs), C(expiring) (inside O(renew_before)) and C(revoked). They are returned in
    RV(reasons); an empty list means the certificate is kept.
  - The SANs come from the inventory. C(ansible_host) (an IP becomes an iPAddress SAN, a name a dNSName SAN) plus
    O(ip_addresses) and O(dns_names). IPv6 addresses are compared in normalised form.
  - Signing runs in the controller's process. The host costs one module run (M(fleet.pki.certificate_files)) when
    nothing changed, and a second one only when a new key and certificate are installed.
  - Every option that has an inventory knob (C(fleet_pki_<option>)) takes that host variable as its default, so
    roles and playbooks do not have to pass them through.
author: fleet.pki contributors (@fleet-pki)
extends_documentation_fragment:
  - fleet.pki._attributes
  - fleet.pki._attributes.action
  - fleet.pki._attributes.files
attributes:
  action:
    support: full
  check_mode:
    support: full
    details: Reports the reasons and writes nothing, on the controller or the host.
  diff_mode:
    support: full
    details: Shows the serial, C(not_after) and SANs before and after.
  idempotent:
    support: full
  safe_file_operations:
    support: full
    details: Every file, on the controller and the host, is written atomically with its final owner and mode.
options:
  pki_dir:
    description:
      - The PKI directory that holds the CA (see M(fleet.pki.authority)). Relative paths start at the inventory
        directory.
      - Defaults to C(fleet_pki_dir), else C(pki) beside the inventory.
    type: path
  ip_addresses:
    description: IP addresses to add as SANs, besides C(ansible_host). Defaults to C(fleet_pki_ip_addresses).
    type: list
    elements: str
  dns_names:
    description:
      - DNS names to add as SANs, besides C(ansible_host). Defaults to C(fleet_pki_dns_names).
      - Internationalised names must be given in their ASCII (punycode) form.
    type: list
    elements: str
  profile:
    description:
      - V(server) gives EKU serverAuth, V(client) clientAuth, V(server_client) both.
      - Defaults to C(fleet_pki_profile), else V(server).
    type: str
    choices: [server, client, server_client]
  key_type:
    description:
      - Key type of the host key. RSA below 2048 bits is refused (OpenSSL 3.2 and Apple reject it).
      - Defaults to C(fleet_pki_key_type), else V(ec-p256).
    type: str
    choices: [ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096]
  validity_days:
    description:
      - Lifetime of the certificate in days. More than 825 is refused, because Apple clients reject such certificates.
        A certificate never outlives its CA.
      - Defaults to C(fleet_pki_validity_days), else V(365).
    type: int
  renew_before:
    description:
      - Re-issue when less than this remains. A number of days (V(30)) or a percentage of the lifetime (V(33%)).
      - Defaults to C(fleet_pki_renew_before), else V(33%).
    type: str
  delivery:
    description:
      - V(device) installs the files on the host. V(artifacts) writes them into C(<pki_dir>/hosts/<host>/) only, for
        devices that cannot run Python; no connection is made to the host.
      - Defaults to C(fleet_pki_delivery), else V(device).
    type: str
    choices: [device, artifacts]
  key_location:
    description:
      - Where the host key is generated. Only V(controller) is available in this release; the key is shipped to the
        host and not kept on the controller unless O(keep_keys=true).
      - Defaults to C(fleet_pki_key_location), else V(controller).
    type: str
    choices: [controller, device]
  ca_passphrase:
    description: Passphrase of the CA key. Defaults to C(fleet_pki_ca_passphrase). Only needed when signing.
    type: str
  dest:
    description:
      - Directory on the host for the files C(key.pem), C(cert.pem), C(chain.pem) and C(fullchain.pem).
      - Defaults to C(fleet_pki_dest), else V(/etc/fleet-pki).
    type: path
  key_path:
    description: Path of the private key on the host. Default C(<dest>/key.pem).
    type: path
  cert_path:
    description: Path of the certificate on the host. Default C(<dest>/cert.pem).
    type: path
  chain_path:
    description: Path of the CA chain on the host. Default C(<dest>/chain.pem).
    type: path
  fullchain_path:
    description: Path of the certificate followed by the chain on the host. Default C(<dest>/fullchain.pem).
    type: path
  owner:
    description: Owner of the files on the host. Defaults to C(fleet_pki_owner), else the connecting user.
    type: str
  group:
    description: Group of the files on the host. Defaults to C(fleet_pki_group), else the connecting user's group.
    type: str
  key_mode:
    description: Mode of the private key file.
    type: raw
    default: '0600'
  cert_mode:
    description: Mode of the certificate, chain and full chain files.
    type: raw
    default: '0644'
  keep_keys:
    description: With O(delivery=device), also keep a copy of the host key in C(<pki_dir>/hosts/<host>/key.pem).
    type: bool
    default: false
notes:
  - Private keys and the CA passphrase are never printed or returned.
  - Two hosts claiming the same IP are caught by M(fleet.pki.preflight), which the C(fleet.pki.device) role runs first.
seealso:
  - module: fleet.pki.authority
  - module: fleet.pki.certificate_files
  - module: fleet.pki.preflight
"""

EXAMPLES = r"""
- name: Issue or keep, and deliver, this device's certificate
  fleet.pki.certificate:
    dest: /etc/nginx/tls
    owner: root
    group: www-data
    key_mode: '0640'
  notify: fleet.pki certificate changed

- name: Write firmware artefacts into the PKI directory only
  fleet.pki.certificate:
    delivery: artifacts

- name: Show what would be re-issued, and why
  fleet.pki.certificate:
  check_mode: true
  register: plan
"""

RETURN = r"""
changed:
  description: Whether a certificate was issued or any file on the host changed.
  returned: always
  type: bool
reasons:
  description: Why a new certificate was (or, in check mode, would be) issued. Empty when the certificate is kept.
  returned: always
  type: list
  elements: str
  sample: ["SANs differ: +IP:192.0.2.17 -IP:192.0.2.16"]
issued:
  description: Whether a certificate was issued in this run.
  returned: always
  type: bool
serial:
  description: Serial of the certificate the host holds after the run (hex).
  returned: success
  type: str
not_after:
  description: End of validity of that certificate (UTC, ISO 8601).
  returned: success
  type: str
sans:
  description: Its SANs, as C(IP:<address>) and C(DNS:<name>).
  returned: success
  type: list
  elements: str
  sample: ["IP:192.0.2.17", "DNS:cam-17.example.net"]
fingerprint_sha256:
  description: SHA-256 fingerprint of that certificate.
  returned: success
  type: str
changed_files:
  description:
    - Which files got new content (V(key), V(cert), V(chain), V(fullchain)). A new chain or full chain matters to
      services as much as a new certificate; the C(fleet.pki.device) role notifies its handler topic on either.
  returned: always
  type: list
  elements: str
  sample: [chain, fullchain]
fixed_attributes:
  description: Which files only had their owner or mode fixed.
  returned: always
  type: list
  elements: str
delivery:
  description: V(device) or V(artifacts).
  returned: success
  type: str
paths:
  description: Where the key, certificate, chain and full chain are (on the host, or in the PKI directory for artefacts).
  returned: success
  type: dict
  sample: {key: /etc/fleet-pki/key.pem, cert: /etc/fleet-pki/cert.pem, chain: /etc/fleet-pki/chain.pem,
           fullchain: /etc/fleet-pki/fullchain.pem}
"""
