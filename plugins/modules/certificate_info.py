#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_info
short_description: Inspect a certificate, bundle, private key or CSR, and check key match and chain
version_added: 0.1.0
description:
  - Reads a certificate, a bundle of certificates, a private key or a certificate signing request, in PEM or DER,
    and returns its facts. It replaces the C(checkcert) and C(checkkey) openssl scripts.
  - With O(private_key_path) or O(private_key_content), it also says whether that key belongs to the certificate
    (or CSR), by comparing public keys.
  - With O(ca_path) or O(ca_content), it also verifies the certificate, through the intermediates of a bundle, against
    that CA. See RV(chain_valid) for what is checked.
  - It runs where the task runs, usually on the device, or on the controller with C(delegate_to) set to V(localhost).
    It only reads, so check mode runs it in full.
  - It never returns private key material or a passphrase; for a key it returns the type, the size and the
    fingerprint of the public key only.
  - For facts of PEM text already on the controller, the filter P(fleet.pki.certificate_info#filter) is cheaper.
author: fleet.pki contributors (@fleet-pki)
requirements:
  - Python C(cryptography) on the host where the module runs. With C(cryptography) 42 or later, the chain check also
    runs C(cryptography)'s RFC 5280 verifier.
extends_documentation_fragment:
  - fleet.pki._attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description:
      - Path of the file to inspect, on the host where the module runs.
      - Exactly one of O(path) and O(content) is required.
    type: path
  content:
    description:
      - The data to inspect, as PEM text, or as base64-encoded DER (binary data cannot be passed as text).
      - Marked C(no_log), because it may hold a private key.
      - Exactly one of O(path) and O(content) is required.
    type: str
  type:
    description:
      - What the input holds.
      - V(auto) decides from the PEM block types (one certificate, several certificates, a private key, a CSR) or by
        trying the DER forms; a file that mixes certificates and a key needs an explicit type.
      - V(certificate) refuses a file with more than one certificate; V(bundle) accepts one or more.
      - V(certificate) and V(bundle) skip other PEM blocks, V(key) skips certificates, so a combined PEM can be read.
    type: str
    choices: [auto, certificate, key, csr, bundle]
    default: auto
  passphrase:
    description:
      - The passphrase of an encrypted private key, whether that key is the input or O(private_key_path) /
        O(private_key_content).
      - Ignored for a key that is not encrypted.
    type: str
  private_key_path:
    description:
      - Path of a private key (PEM or DER) on the host where the module runs. RV(key_matches) says whether it
        belongs to the certificate (the first one of a bundle) or the CSR.
      - Mutually exclusive with O(private_key_content).
    type: path
  private_key_content:
    description:
      - A private key as PEM text or base64-encoded DER, as for O(private_key_path). Never logged.
    type: str
  ca_path:
    description:
      - Path of the CA certificate (PEM or DER; a PEM file may hold several trusted CA certificates) to verify the
        certificate against, on the host where the module runs. Fills RV(chain_valid) and RV(chain_errors).
      - Mutually exclusive with O(ca_content).
    type: path
  ca_content:
    description:
      - The CA certificate(s) as PEM text or base64-encoded DER, as for O(ca_path).
    type: str
  expected_name:
    description:
      - An IP address or DNS name that the certificate must have in its subjectAltName, as clients require.
      - Sets RV(name_matches), and is part of RV(chain_valid) when a CA is given.
      - IP addresses are compared as addresses (IPv6 spellings do not matter), DNS names case-insensitively, with
        C(*.) wildcards covering one label.
    type: str
  valid_at:
    description:
      - The time to check validity at, and to count RV(days_left) from, in ISO 8601, for example
        V(2027-01-01T00:00:00Z). A time without a zone, or a date alone, is UTC.
      - Defaults to now on the host where the module runs.
    type: str
notes:
  - Fingerprints, SKI and AKI are upper-case hex with colons and serials are upper-case hex, the way C(openssl x509)
    prints them, so values can be compared with C(openssl) output and with C(index.txt).
  - Times are ISO 8601 in UTC with a trailing C(Z).
seealso:
  - plugin: fleet.pki.certificate_info
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Inspect the certificate a device holds
  fleet.pki.certificate_info:
    path: /etc/fleet-pki/cert.pem
  register: cert

- name: Fail when it expires within 30 days
  ansible.builtin.assert:
    that: cert.days_left >= 30
    fail_msg: "{{ cert.subject }} expires on {{ cert.not_after }} ({{ cert.days_left }} days left)"

- name: Check that the key belongs to the certificate and that it chains to the fleet CA for the device's IP
  fleet.pki.certificate_info:
    path: /etc/fleet-pki/fullchain.pem
    type: bundle
    private_key_path: /etc/fleet-pki/key.pem
    ca_content: "{{ lookup('ansible.builtin.file', 'pki/ca/ca.crt') }}"
    expected_name: "{{ ansible_host }}"
  register: check

- name: Stop on a broken device
  ansible.builtin.assert:
    that:
      - check.key_matches
      - check.chain_valid
    fail_msg: "{{ check.chain_errors | join('; ') }}"

- name: Inspect an encrypted key on the controller (the old checkkey)
  fleet.pki.certificate_info:
    path: pki/ca/ca.key
    passphrase: "{{ fleet_pki_ca_passphrase }}"
  delegate_to: localhost
  register: ca_key
"""

RETURN = r"""
type:
  description: What was inspected.
  returned: success
  type: str
  choices: [certificate, bundle, key, csr]
  sample: certificate
certificates:
  description:
    - The facts of every certificate, in the order of the input. The facts of the first one are also returned at the
      top level (RV(subject), RV(days_left), ...).
  returned: RV(type) is V(certificate) or V(bundle)
  type: list
  elements: dict
subject:
  description: The subject as an RFC 4514 string (most specific attribute first).
  returned: RV(type) is V(certificate), V(bundle) or V(csr)
  type: str
  sample: CN=dev1,O=Fleet
common_name:
  description: The subject's common name, or an empty string.
  returned: RV(type) is V(certificate), V(bundle) or V(csr)
  type: str
  sample: dev1
issuer:
  description: The issuer as an RFC 4514 string.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
  sample: CN=Fleet Root CA
issuer_common_name:
  description: The issuer's common name, or an empty string.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
sans:
  description:
    - The subject alternative names (requested ones for a CSR), C(IP:) before C(DNS:), IPv6 compressed, DNS in lower case.
  returned: RV(type) is V(certificate), V(bundle) or V(csr)
  type: list
  elements: str
  sample: ["IP:192.168.1.10", "DNS:dev1.fleet.example"]
ip_addresses:
  description: The IP addresses of RV(sans).
  returned: RV(type) is V(certificate), V(bundle) or V(csr)
  type: list
  elements: str
dns_names:
  description: The DNS names of RV(sans).
  returned: RV(type) is V(certificate), V(bundle) or V(csr)
  type: list
  elements: str
serial:
  description: The serial number in upper-case hex with an even number of digits, as C(openssl) and C(index.txt) show it.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
  sample: 5F3A0C1D9E2B7A44
not_before:
  description: Start of validity, ISO 8601 UTC.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
  sample: "2026-11-25T12:00:00Z"
not_after:
  description: End of validity, ISO 8601 UTC.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
  sample: "2027-11-25T12:00:00Z"
days_left:
  description: Whole days from O(valid_at) (or now) to RV(not_after), rounded down; negative once expired.
  returned: RV(type) is V(certificate) or V(bundle)
  type: int
  sample: 364
expired:
  description: Whether RV(not_after) is before O(valid_at) (or now).
  returned: RV(type) is V(certificate) or V(bundle)
  type: bool
not_yet_valid:
  description: Whether RV(not_before) is after O(valid_at) (or now).
  returned: RV(type) is V(certificate) or V(bundle)
  type: bool
is_ca:
  description: Whether BasicConstraints says C(CA:TRUE).
  returned: RV(type) is V(certificate) or V(bundle)
  type: bool
path_length:
  description: The CA's path length constraint, or null (none, or not a CA).
  returned: RV(type) is V(certificate) or V(bundle)
  type: int
self_signed:
  description: Whether the certificate's issuer is its subject and its own key verifies its signature.
  returned: RV(type) is V(certificate) or V(bundle)
  type: bool
signature_algorithm:
  description: The signature algorithm, named as OpenSSL names it.
  returned: RV(type) is V(certificate), V(bundle) or V(csr)
  type: str
  sample: ecdsa-with-SHA256
fingerprint_sha256:
  description: SHA-256 of the DER certificate, upper-case hex with colons (C(openssl x509 -fingerprint -sha256)).
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
fingerprint_sha1:
  description: SHA-1 of the DER certificate, upper-case hex with colons.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
extended_key_usage:
  description: Extended key usages by name (V(serverAuth), V(clientAuth), ...) or dotted OID.
  returned: RV(type) is V(certificate), V(bundle) or V(csr)
  type: list
  elements: str
  sample: [serverAuth]
key_usage:
  description: Key usages by their RFC 5280 names.
  returned: RV(type) is V(certificate) or V(bundle)
  type: list
  elements: str
  sample: [digitalSignature]
subject_key_identifier:
  description: The SubjectKeyIdentifier, upper-case hex with colons, or null.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
authority_key_identifier:
  description: The key identifier of the AuthorityKeyIdentifier, upper-case hex with colons, or null.
  returned: RV(type) is V(certificate) or V(bundle)
  type: str
key_algorithm:
  description: The public key's algorithm.
  returned: success
  type: str
  choices: [rsa, ec, ed25519, ed448, dsa, unknown]
key_type:
  description: The key named like C(fleet_pki_key_type), for example V(ec-p256), V(rsa-2048), V(ed25519).
  returned: success
  type: str
  sample: ec-p256
key_size:
  description: The key size in bits.
  returned: success
  type: int
  sample: 256
key_curve:
  description: The curve of an EC key (V(P-256), V(P-384), V(P-521), or the OpenSSL curve name), else null.
  returned: success
  type: str
public_key_fingerprint_sha256:
  description:
    - SHA-256 of the DER SubjectPublicKeyInfo, upper-case hex with colons. A key and its certificate have the same one.
  returned: success
  type: str
encrypted:
  description: Whether the private key was encrypted.
  returned: RV(type) is V(key)
  type: bool
signature_valid:
  description: Whether the CSR's self-signature verifies.
  returned: RV(type) is V(csr)
  type: bool
private_key:
  description:
    - Facts of the key given in O(private_key_path) or O(private_key_content), the public ones only
      (RV(key_type), RV(key_size), RV(public_key_fingerprint_sha256), ...).
  returned: O(private_key_path) or O(private_key_content) is set
  type: dict
key_matches:
  description: Whether the private key belongs to the certificate (the first of a bundle) or the CSR.
  returned: O(private_key_path) or O(private_key_content) is set
  type: bool
chain_valid:
  description:
    - Whether the certificate (the first of a bundle) chains to the CA, through the bundle's other certificates as
      intermediates, in any order.
    - Checked are issuer and subject linkage, every signature, the validity at O(valid_at) (or now) of every
      certificate in the path including the CA, BasicConstraints C(CA:TRUE), C(keyCertSign) and the path length of
      every issuer, and the SAN for O(expected_name).
    - When these pass and C(cryptography) 42 or later is present, C(cryptography)'s RFC 5280 verifier
      (C(x509.verification)) builds and checks the chain again and can add a reason, for example a missing
      AuthorityKeyIdentifier or an EKU without V(serverAuth). RV(chain_method) says whether it ran.
  returned: O(ca_path) or O(ca_content) is set
  type: bool
chain_errors:
  description: Why the chain is not valid; empty when it is.
  returned: O(ca_path) or O(ca_content) is set
  type: list
  elements: str
  sample: ["'CN=dev1' expired on 2026-01-01T00:00:00Z"]
chain_method:
  description: V(fleet.pki), or V(fleet.pki+cryptography.x509.verification) when the second verifier ran.
  returned: O(ca_path) or O(ca_content) is set
  type: str
name_matches:
  description: Whether the certificate (the first of a bundle) has a SAN for O(expected_name).
  returned: O(expected_name) is set
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.fleet.pki.plugins.module_utils._crypto import HAS_CRYPTOGRAPHY
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils import _certificate_info as info


def _read(module, path_option, content_option, kind, passphrase=None):
    """Load the input given by a path option or a content option; None when neither is set."""
    path, content = module.params[path_option], module.params[content_option]
    if path is None and content is None:
        return None
    if path is not None:
        return info.load(info.read_file(path), path, kind, passphrase)
    return info.load(info.content_bytes(content, content_option), content_option, kind, passphrase)


def run(module):
    params = module.params
    now = info.parse_time(params["valid_at"]) if params["valid_at"] else info.now_utc()
    material = _read(module, "path", "content", params["type"], params["passphrase"])
    result = info.facts(material, now)
    wants_certificate = [option for option in ("ca_path", "ca_content", "expected_name") if params[option]]
    if wants_certificate and material.kind not in ("certificate", "bundle"):
        raise FleetPkiError(f"{', '.join(wants_certificate)} need(s) a certificate to check, but "
                            f"{material.source} holds a {material.kind}")
    key = _read(module, "private_key_path", "private_key_content", "key", params["passphrase"])
    if key is not None:
        result["private_key"] = info.public_key_facts(key.private_key.public_key())
        result["key_matches"] = info.key_matches(material, key)
    if params["expected_name"]:
        result["name_matches"] = info.name_problem(material.certificates[0], params["expected_name"]) is None
    anchors = _read(module, "ca_path", "ca_content", "bundle")
    if anchors is not None:
        valid, errors, method = info.verify_chain(material.certificates, anchors.certificates, now, params["expected_name"])
        result.update(chain_valid=valid, chain_errors=errors, chain_method=method)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            content=dict(type="str", no_log=True),
            type=dict(type="str", default="auto", choices=["auto", "certificate", "key", "csr", "bundle"]),
            passphrase=dict(type="str", no_log=True),
            private_key_path=dict(type="path"),
            private_key_content=dict(type="str", no_log=True),
            ca_path=dict(type="path"),
            ca_content=dict(type="str"),
            expected_name=dict(type="str"),
            valid_at=dict(type="str"),
        ),
        mutually_exclusive=[("path", "content"), ("private_key_path", "private_key_content"), ("ca_path", "ca_content")],
        required_one_of=[("path", "content")],
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"))
    try:
        result = run(module)
    except FleetPkiError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
