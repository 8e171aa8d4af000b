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
  - A symbolic link in place of one of the files, or of the directory that holds it, is refused with an error that
    names it, and nothing is written. The module never writes, chmods or reads through a link, nor replaces one.
  - You normally do not call this module yourself; M(fleet.pki.certificate) does.
  - Works with the Python standard library only. The key check uses Python C(cryptography) where the device
    has it and the C(openssl) command where it does not.
  - With O(key_location=device) the private key is made on the device and never leaves it. O(new_key=true) makes a
    new key of O(key_type) at C(<key_path>.pending) (mode O(key_mode) and owner from the start) and returns a CSR for
    it in RV(csr); the key and certificate in use stay as they are. A later run with O(cert_content) checks that the
    certificate belongs to the pending key, moves the pending key to O(key_path) and installs the certificate, chain
    and full chain. Keys and CSRs are made with Python C(cryptography) where the device has it, else with the
    device's C(openssl) command (C(openssl genpkey), C(openssl req)).
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
    description:
      - New private key in PEM. Only sent when a certificate is issued, and only with O(key_location=controller).
    type: str
  cert_content:
    description:
      - New certificate in PEM. Required with O(key_content).
      - With O(key_location=device), sent without a key; it must belong to the pending key made by O(new_key)
        (or to the key already at O(key_path)), else nothing is installed.
    type: str
  key_location:
    description:
      - V(controller) means the key comes in O(key_content). V(device) means the key is made on the device and
        O(key_content) is refused.
    type: str
    choices: [controller, device]
    default: controller
  new_key:
    description:
      - With O(key_location=device), make a new private key of O(key_type) at C(<key_path>.pending) and return a CSR
        for it in RV(csr). Nothing is made in check mode.
    type: bool
    default: false
  key_type:
    description: Type of the key that O(new_key) makes.
    type: str
    choices: [ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096]
    default: ec-p256
  common_name:
    description: Subject CN of the CSR that O(new_key) returns. The CA ignores it and uses the inventory's.
    type: str
  chain_content:
    description: The CA chain in PEM.
    type: str
  report_previous:
    description:
      - Also return what the device held before this run changed anything, as RV(previous).
      - The fleet.pki.certificate action plugin sets it when it installs a new certificate without asking first,
        because the CA's index lists no valid certificate for the host, so nothing on the device could be kept.
    type: bool
    default: false
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

- name: Make a new key on the device and return its CSR (the key stays on the device)
  fleet.pki.certificate_files:
    key_path: /etc/fleet-pki/key.pem
    cert_path: /etc/fleet-pki/cert.pem
    chain_path: /etc/fleet-pki/chain.pem
    fullchain_path: /etc/fleet-pki/fullchain.pem
    key_location: device
    new_key: true
    key_type: ec-p256
    common_name: cam-01
  register: device_key
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
csr:
  description: The CSR (PEM) for the new pending key. Never the key itself.
  returned: when O(new_key=true), outside check mode
  type: str
previous:
  description: What the device held before this run, in the form of RV(certificate) and RV(key_state).
  returned: when O(report_previous=true)
  type: dict
  contains:
    certificate:
      description: The certificate the device held before, in PEM, or null.
      type: str
    key_state:
      description: Whether the key held before belonged to that certificate.
      type: str
key_backend:
  description: What makes keys and CSRs on this device, V(cryptography) or V(openssl).
  returned: when O(key_location=device)
  type: str
  sample: openssl
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleet.pki.plugins.module_utils._device_files import (
    ROLES, FileSpec, converge, parse_mode, refuse_linked_files, report, resolve_owner,
)
from ansible_collections.fleet.pki.plugins.module_utils._device_keys import (
    activate_pending_key, backend, csr_for, new_pending_key, pending_path,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_types import KEY_TYPES


def _openssl_runner(module):
    """The fallback on devices without Python cryptography, in the C locale. A missing openssl raises OSError."""
    def run(args, data=None):
        binary = module.get_bin_path(args[0])
        if binary is None:
            raise OSError(f"{args[0]} not found")
        return module.run_command([binary, *args[1:]], data=data, binary_data=False,
                                  environ_update={"LC_ALL": "C", "LANGUAGE": "C"})
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
            key_location=dict(type="str", choices=["controller", "device"], default="controller"),
            new_key=dict(type="bool", default=False),
            key_type=dict(type="str", choices=list(KEY_TYPES), default="ec-p256", no_log=False),
            common_name=dict(type="str"),
            owner=dict(type="str"),
            group=dict(type="str"),
            key_mode=dict(type="raw", default="0600", no_log=False),
            cert_mode=dict(type="raw", default="0644"),
            report_previous=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    device_key = params["key_location"] == "device"
    try:
        _check_combination(params, device_key)
        runner = _openssl_runner(module)
        uid, gid = resolve_owner(params["owner"], params["group"])
        key_mode = parse_mode(params["key_mode"], "key_mode")
        cert_mode = parse_mode(params["cert_mode"], "cert_mode")
        specs = {
            role: FileSpec(params[f"{role}_path"], key_mode if role == "key" else cert_mode, uid, gid)
            for role in ROLES
        }
        # A link planted in place of a file (or its directory) is refused before anything is read or written.
        refuse_linked_files(specs, [pending_path(specs["key"].path)] if device_key else [])
        extra = {"key_backend": backend()} if device_key else {}
        if params["report_previous"]:
            extra["previous"] = report(specs, runner)
        activated = []
        if device_key and params["new_key"] and not module.check_mode:
            new_pending_key(specs["key"].path, params["key_type"], key_mode, uid, gid, runner)
            extra["csr"] = csr_for(pending_path(specs["key"].path), params["common_name"], runner)
        if device_key and params["cert_content"]:
            if module.check_mode:
                activated = ["key"]
            elif activate_pending_key(specs["key"].path, params["cert_content"], runner):
                activated = ["key"]
        contents = {role: params[f"{role}_content"] for role in ("key", "cert", "chain") if params[f"{role}_content"]}
        changed_files, fixed_attributes = converge(specs, contents, check_mode=module.check_mode)
        changed_files = [role for role in ROLES if role in activated or role in changed_files]
        fixed_attributes = [role for role in fixed_attributes if role not in changed_files]
        result = report(specs, runner)
    except FleetPkiError as exc:
        module.fail_json(msg=str(exc))
    result.update(extra)
    module.exit_json(changed=bool(changed_files or fixed_attributes or "csr" in extra), changed_files=changed_files,
                     fixed_attributes=fixed_attributes, **result)


def _check_combination(params, device_key):
    if device_key and params["key_content"]:
        raise FleetPkiError("key_content cannot be used with key_location=device: the key is made on the device")
    if not device_key and params["new_key"]:
        raise FleetPkiError("new_key needs key_location=device")
    if not device_key and bool(params["key_content"]) != bool(params["cert_content"]):
        raise FleetPkiError("key_content and cert_content go together with key_location=controller")


if __name__ == "__main__":
    main()
