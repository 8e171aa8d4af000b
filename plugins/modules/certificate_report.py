#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_report
short_description: Report which certificate the current host holds, without changing anything
version_added: 0.1.0
description:
  - The collection step of C(playbooks/report.yml). It asks the host which certificate it holds and returns it
    with the host's certificate settings, for M(fleet.pki.fleet_report) to classify and write into the fleet report.
  - The device is the source of truth. A device costs one run of M(fleet.pki.certificate_files), always in check
    mode, so nothing on the device changes, whatever the play's check mode.
  - An artefact-only host (O(delivery=artifacts)) is not contacted; its files in C(<pki_dir>/hosts/<host>/) are what
    it holds.
  - A host that cannot be reached is returned with RV(unreachable) set, together with its settings, so that the
    report lists it as unreachable. Use the task keyword C(ignore_unreachable) to keep it in the play.
  - Settings that M(fleet.pki.certificate) would refuse (an invalid SAN, for example) fail the task with a message
    that names the host and the value.
  - Every option that has an inventory knob (C(fleet_pki_<option>)) takes that host variable as its default, as in
    M(fleet.pki.certificate).
author: fleet.pki contributors (@fleet-pki)
extends_documentation_fragment:
  - fleet.pki._attributes
  - fleet.pki._attributes.action
attributes:
  action:
    support: full
  check_mode:
    support: full
    details: It only reads, on the controller and the host, in check mode or not.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  pki_dir:
    description:
      - The PKI directory (for artefact-only hosts, and returned for the report). Relative paths start at the
        inventory directory.
      - Defaults to C(fleet_pki_dir), else C(pki) beside the inventory.
    type: path
  ip_addresses:
    description: IP address SANs besides C(ansible_host). Defaults to C(fleet_pki_ip_addresses).
    type: list
    elements: str
  dns_names:
    description: DNS name SANs besides C(ansible_host). Defaults to C(fleet_pki_dns_names).
    type: list
    elements: str
  profile:
    description: Certificate profile the host should have. Defaults to C(fleet_pki_profile), else V(server).
    type: str
    choices: [server, client, server_client]
  key_type:
    description: Key type the host should have. Defaults to C(fleet_pki_key_type), else V(ec-p256).
    type: str
  validity_days:
    description: Lifetime of a new certificate in days. Defaults to C(fleet_pki_validity_days), else V(365).
    type: int
  renew_before:
    description:
      - Renewal threshold, days (V(30)) or a share of the lifetime (V(33%)); the report calls a certificate inside
        it C(renew due). Defaults to C(fleet_pki_renew_before), else V(33%).
    type: str
  delivery:
    description: V(device) asks the host; V(artifacts) reads the PKI directory. Defaults to C(fleet_pki_delivery).
    type: str
    choices: [device, artifacts]
  dest:
    description: Directory of the files on the device. Defaults to C(fleet_pki_dest), else V(/etc/fleet-pki).
    type: path
  key_path:
    description: Path of the private key on the device (only checked against the certificate). Default C(<dest>/key.pem).
    type: path
  cert_path:
    description: Path of the certificate on the device. Default C(<dest>/cert.pem).
    type: path
  chain_path:
    description: Path of the CA chain on the device. Default C(<dest>/chain.pem).
    type: path
  fullchain_path:
    description: Path of the full chain on the device. Default C(<dest>/fullchain.pem).
    type: path
seealso:
  - module: fleet.pki.fleet_report
  - module: fleet.pki.certificate
"""

EXAMPLES = r"""
- name: Ask each device which certificate it holds
  fleet.pki.certificate_report:
  register: certificate_report
  ignore_unreachable: true
  ignore_errors: true
"""

RETURN = r"""
certificate:
  description: The certificate the host holds, in PEM, or null if it holds none.
  returned: success
  type: str
key_state:
  description: Whether the private key beside it belongs to that certificate.
  returned: success
  type: str
  choices: [matches, mismatch, missing, unreadable, unknown]
  sample: matches
source:
  description: Where the certificate was read, V(device) or V(artifacts) (the PKI directory).
  returned: always
  type: str
  sample: device
serial:
  description: Serial of the certificate held, upper-case hex, or null.
  returned: success
  type: str
  sample: 5A0C9F1E3B7D2C4A8E6F1B3D5C7A9E0F
not_after:
  description: End of validity of the certificate held (UTC, ISO 8601), or null.
  returned: success
  type: str
  sample: '2027-11-26T12:00:00Z'
sans:
  description: SANs of the certificate held.
  returned: success
  type: list
  elements: str
  sample: ["IP:192.0.2.11"]
knobs:
  description: The host's certificate settings as resolved from options and inventory knobs.
  returned: always
  type: dict
pki_dir:
  description: The PKI directory of the host, absolute.
  returned: always
  type: str
paths:
  description: The paths of the key, certificate, chain and full chain that were read.
  returned: when the settings are valid
  type: dict
unreachable:
  description: True when the device could not be reached; C(msg) says why.
  returned: when the device could not be reached
  type: bool
"""
