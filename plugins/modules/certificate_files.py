#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_files
short_description: Report and install a device's TLS key, certificate, chain and full chain
version_added: 0.1.0
description:
  - The device side of M(fleet.pki.certificate). It reports the certificate the device holds and whether the
    private key belongs to it, and brings the four files in line with what it is given, in one run.
  - Without O(key_content) and O(cert_content) it writes no key or certificate; it still keeps the chain, the
    full chain (the device's certificate followed by O(chain_content)) and every file's owner and mode in line.
  - Files are written atomically, with their final owner and mode set before they appear.
  - You normally do not call this module yourself; M(fleet.pki.certificate) does.
  - Works with the Python standard library only. The key check uses Python C(cryptography) where the device
    has it and the C(openssl) command where it does not.
author: fleet.pki contributors (@fleet-pki)
extends_documentation_fragment:
  - fleet.pki._attributes
  - fleet.pki._attributes.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: M(fleet.pki.certificate) shows the diff of the certificate it replaces.
  idempotent:
    support: full
  safe_file_operations:
    support: full
options:
  key_path:
    description: Path of the private key on the device.
    type: path
    required: true
  cert_path:
    description: Path of the certificate on the device.
    type: path
    required: true
  chain_path:
    description: Path of the CA chain (without the certificate) on the device.
    type: path
    required: true
  fullchain_path:
    description: Path of the certificate followed by its chain on the device.
    type: path
    required: true
  key_content:
    description: New private key in PEM. Only sent when a certificate is issued.
    type: str
  cert_content:
    description: New certificate in PEM. Required with O(key_content).
    type: str
  chain_content:
    description: The CA chain in PEM.
    type: str
  owner:
    description: Owner of the files (name or number). Default is the user the module runs as.
    type: str
  group:
    description: Group of the files (name or number). Default is that user's group.
    type: str
  key_mode:
    description: Mode of the private key file.
    type: raw
    default: '0600'
  cert_mode:
    description: Mode of the certificate, chain and full chain files.
    type: raw
    default: '0644'
"""

EXAMPLES = r"""
- name: Report what the device holds, and keep chain and modes in line
  fleet.pki.certificate_files:
    key_path: /etc/fleet-pki/key.pem
    cert_path: /etc/fleet-pki/cert.pem
    chain_path: /etc/fleet-pki/chain.pem
    fullchain_path: /etc/fleet-pki/fullchain.pem
    chain_content: "{{ lookup('ansible.builtin.file', 'pki/ca/ca.crt') }}"
"""

RETURN = r"""
certificate:
  description: The certificate the device holds after the run, in PEM, or null if it has none.
  returned: success
  type: str
key_state:
  description: Whether the private key belongs to that certificate.
  returned: success
  type: str
  choices: [matches, mismatch, missing, unreadable, unknown]
  sample: matches
changed_files:
  description: Which of the four files got new content (V(key), V(cert), V(chain), V(fullchain)).
  returned: success
  type: list
  elements: str
  sample: [chain, fullchain]
fixed_attributes:
  description: Which of the four files only had their owner or mode fixed.
  returned: success
  type: list
  elements: str
  sample: [key]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.pki.plugins.module_utils._device_files import (
    ROLES, FileSpec, converge, parse_mode, report, resolve_owner,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


def _openssl_runner(module):
    """The key check's fallback on devices without Python cryptography, in the C locale."""
    def run(args, data=None):
        return module.run_command(args, data=data, binary_data=False, environ_update={"LC_ALL": "C", "LANGUAGE": "C"})
    return run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            key_path=dict(type="path", required=True, no_log=False),
            cert_path=dict(type="path", required=True),
            chain_path=dict(type="path", required=True),
            fullchain_path=dict(type="path", required=True),
            key_content=dict(type="str", no_log=True),
            cert_content=dict(type="str"),
            chain_content=dict(type="str"),
            owner=dict(type="str"),
            group=dict(type="str"),
            key_mode=dict(type="raw", default="0600", no_log=False),
            cert_mode=dict(type="raw", default="0644"),
        ),
        required_together=[("key_content", "cert_content")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        uid, gid = resolve_owner(params["owner"], params["group"])
        key_mode = parse_mode(params["key_mode"], "key_mode")
        cert_mode = parse_mode(params["cert_mode"], "cert_mode")
        specs = {
            role: FileSpec(params[f"{role}_path"], key_mode if role == "key" else cert_mode, uid, gid)
            for role in ROLES
        }
        contents = {role: params[f"{role}_content"] for role in ("key", "cert", "chain") if params[f"{role}_content"]}
        changed_files, fixed_attributes = converge(specs, contents, check_mode=module.check_mode)
        result = report(specs, _openssl_runner(module))
    except FleetPkiError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(changed_files or fixed_attributes), changed_files=changed_files,
                     fixed_attributes=fixed_attributes, **result)


if __name__ == "__main__":
    main()
