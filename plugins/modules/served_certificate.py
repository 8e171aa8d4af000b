#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: served_certificate
short_description: Check from the control node the TLS certificate a device really serves
version_added: 0.1.0
description:
  - Connects to the device over TLS from the control node, like a client that trusts only the fleet CA. It verifies
    the chain and that the certificate is valid for the address (iPAddress or dNSName SAN), and compares the served
    certificate's SHA-256 fingerprint with the one that was delivered.
  - Fails with the TLS error or both fingerprints when they differ, so a rollout stops at a device whose service did
    not pick up its new certificate.
  - Runs in the controller's process; it makes no Ansible connection to the device.
author: fleet.pki contributors (@fleet-pki)
extends_documentation_fragment:
  - fleet.pki._attributes
  - fleet.pki._attributes.action
attributes:
  action:
    support: full
  check_mode:
    support: full
    details: It only reads, so it runs in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  address:
    description: Address to connect to. Defaults to C(ansible_host), else the inventory name.
    type: str
  port:
    description: TCP port of the TLS service. Defaults to C(fleet_pki_verify_port).
    type: int
  server_name:
    description: Name to send as SNI and to check the certificate against. Defaults to O(address).
    type: str
  expected_fingerprint:
    description:
      - SHA-256 fingerprint the device should serve (any case, colons optional).
      - Defaults to the fingerprint of C(<pki_dir>/hosts/<host>/cert.pem), the last certificate delivered to the host.
    type: str
  pki_dir:
    description: The PKI directory, for the CA certificate. Defaults to C(fleet_pki_dir), else C(pki) beside the inventory.
    type: path
  timeout:
    description: Seconds to wait for the connection and the handshake.
    type: float
    default: 10.0
notes:
  - Use C(retries) and C(until) on the task when services take a moment to reload.
seealso:
  - module: fleet.pki.certificate
"""

EXAMPLES = r"""
- name: Check that nginx serves the delivered certificate
  fleet.pki.served_certificate:
    port: 443
    expected_fingerprint: "{{ device_certificate.fingerprint_sha256 }}"
  register: served
  retries: 5
  delay: 2
  until: served is succeeded
"""

RETURN = r"""
address:
  description: The address that was checked.
  returned: success
  type: str
port:
  description: The port that was checked.
  returned: success
  type: int
served_fingerprint:
  description: SHA-256 fingerprint of the served certificate.
  returned: success
  type: str
verified:
  description: Always true on success; the chain and the name verified against the fleet CA.
  returned: success
  type: bool
"""
