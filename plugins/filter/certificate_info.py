# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: certificate_info
short_description: Facts of a PEM certificate, bundle, CSR or unencrypted private key
version_added: 0.1.0
author: fleet.pki contributors (@fleet-pki)
description:
  - Takes PEM text (or base64-encoded DER) and returns the same facts as the module M(fleet.pki.certificate_info),
    computed on the controller without a module run.
  - Several certificates (a bundle, a full chain) give RV(_value.type=bundle), their facts in
    RV(_value.certificates) in order, and the first one's facts at the top level.
  - It takes no passphrase, so that no secret passes through templates; an encrypted key fails.
    Use the module with its C(passphrase) option for those.
  - Needs Python C(cryptography) on the controller.
options:
  _input:
    description: The PEM text.
    type: string
    required: true
  now:
    description:
      - The time to count RV(_value.days_left) and RV(_value.expired) from, as an ISO 8601 string; a time without a
        zone, or a date alone, is UTC.
      - Defaults to the current time. Mainly for reproducible reports and tests.
    type: string
  type:
    description: What the input holds; V(auto) decides from the PEM block types.
    type: string
    choices: [auto, certificate, bundle, csr, key]
    default: auto
seealso:
  - module: fleet.pki.certificate_info
"""

EXAMPLES = r"""
- name: Facts of the fleet CA on the controller
  ansible.builtin.set_fact:
    ca_facts: "{{ lookup('ansible.builtin.file', 'pki/ca/ca.crt') | fleet.pki.certificate_info }}"

- name: Fail early when the CA expires within a year
  ansible.builtin.assert:
    that: ca_facts.days_left > 365
    fail_msg: "The fleet CA {{ ca_facts.subject }} expires on {{ ca_facts.not_after }}"

- name: SANs of every device certificate in the PKI directory
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ (lookup('ansible.builtin.file', 'pki/hosts/' ~ inventory_hostname ~ '/cert.pem')
              | fleet.pki.certificate_info).sans | join(', ') }}"

- name: Days left of each certificate in a full chain, at a fixed time
  ansible.builtin.debug:
    msg: "{{ (chain_pem | fleet.pki.certificate_info(now='2027-01-01T00:00:00Z')).certificates
              | map(attribute='days_left') | list }}"
"""

RETURN = r"""
_value:
  description:
    - The facts, as the module M(fleet.pki.certificate_info) returns them (without its checks).
    - See that module for every key; the most used ones are listed here.
  type: dict
  contains:
    type:
      description: V(certificate), V(bundle), V(csr) or V(key).
      type: str
    subject:
      description: The subject, RFC 4514.
      type: str
      sample: CN=dev1,O=Fleet
    sans:
      description: SANs, C(IP:) before C(DNS:), normalised.
      type: list
      elements: str
      sample: ["IP:192.168.1.10", "DNS:dev1.fleet.example"]
    serial:
      description: Upper-case hex, as in C(index.txt).
      type: str
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2027-11-25T12:00:00Z"
    days_left:
      description: Whole days left, rounded down; negative once expired.
      type: int
    expired:
      description: Whether the certificate has expired.
      type: bool
    fingerprint_sha256:
      description: SHA-256 of the DER certificate, upper-case hex with colons.
      type: str
    key_type:
      description: Like C(fleet_pki_key_type), for example V(ec-p256).
      type: str
    certificates:
      description: The facts of every certificate of a certificate or bundle input, in order.
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleet.pki.plugins.module_utils._certificate_info import content_bytes, inspect
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


def certificate_info(data, now=None, type="auto"):  # pylint: disable=redefined-builtin
    """`type` mirrors the module's option name."""
    if not isinstance(data, (str, bytes)):
        raise AnsibleFilterError("fleet.pki.certificate_info: the input must be PEM text, not %s" % data.__class__.__name__)
    try:
        return inspect(content_bytes(data, "the input"), "the input", kind=type, passphrase=None, now=now)
    except FleetPkiError as exc:
        raise AnsibleFilterError(f"fleet.pki.certificate_info: {exc}") from None


class FilterModule:
    def filters(self):
        return {"certificate_info": certificate_info}
