#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: authority
short_description: Ensure the fleet CA exists in the PKI directory on the control node
version_added: 0.1.0
description:
  - Creates the fleet's root CA (key and self-signed certificate) in O(pki_dir) the first time, and checks it on
    every later run. Its key is never regenerated, whatever the options say; differences between the options and the
    existing CA are reported as warnings. The one change it makes to an existing CA is to renew its certificate with
    the same key when less than O(renew_before) of its lifetime is left.
  - Keeps two public exports of the CA certificate beside it in C(<pki_dir>/ca/), mode 0644, for clients that are
    set up by hand or by MDM. C(ca.der.crt) is the certificate in DER (Android's "CA certificate" install, Windows
    import). C(ca.mobileconfig) is an unsigned Apple configuration profile (iOS, iPadOS, macOS) with one
    C(com.apple.security.root) payload; its identifiers derive from the CA's label and its UUIDs from the CA's
    SHA-256, so reruns produce the same bytes. The exports are made for an existing CA too, and rewritten only
    when their content would change; a run that writes one reports a change. The C(ca/) directory stays 0700, so
    copy the exports to wherever clients fetch them (see the collection's C(docs/mobile.md)).
  - Fails clearly when the CA key does not match the CA certificate, when the passphrase is wrong, when the
    certificate exists without its key, or when the PKI directory is not usable.
  - Runs entirely on the control node, in the controller's process (an action plugin). It makes no connection
    to the host it runs for.
  - The CA follows the profile in the collection's docs. BasicConstraints CA:TRUE with path length 0 and KeyUsage
    keyCertSign and cRLSign, both critical, a subject CN (iOS lists no root without one), and optional name constraints.
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
  diff_mode:
    support: full
  idempotent:
    support: full
  safe_file_operations:
    support: full
    details: Files are written through a temporary file in the same directory with their final mode, then renamed.
options:
  pki_dir:
    description:
      - The PKI directory. The CA lives in its C(ca/) subdirectory.
      - Relative paths start at the inventory directory.
      - Defaults to the host variable C(fleet_pki_dir), else C(pki) beside the inventory.
    type: path
  common_name:
    description: Subject CN of the CA. Required by iOS to list the root in its trust settings.
    type: str
    default: fleet.pki CA
  organization:
    description: Subject O of the CA.
    type: str
    default: ''
  key_type:
    description: Key type of the CA key.
    type: str
    choices: [ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096]
    default: ec-p256
  validity_days:
    description: Lifetime of the CA certificate in days.
    type: int
    default: 3650
  passphrase:
    description:
      - Passphrase that encrypts the CA key (PKCS#8, best available encryption). Keep it in ansible-vault.
      - Defaults to the host variable C(fleet_pki_ca_passphrase).
      - Without a passphrase the key is stored unencrypted, mode 0600.
    type: str
  renew_before:
    description:
      - When the CA certificate has less than this left, it is renewed with the same key. The subject, the key and
        every extension stay, so every certificate the CA issued stays valid under the new CA certificate and nothing
        is re-issued. The old certificate is kept in C(ca/superseded/<label>.crt).
      - A number of days (V(365)) or a percentage of the CA certificate's lifetime (V(20%)).
      - Clients keep trusting the old CA certificate until it expires; give them the new one (the M(fleet.pki.trust_anchor)
        label differs, so both are installed side by side) before then. C(provision.yml) does that.
      - Defaults to the host variable C(fleet_pki_ca_renew_before), then V(20%).
      - To move to a new key instead, see the CA rollover in the documentation (docs/ca-rotation.md).
    type: str
  create:
    description:
      - Whether to create the CA when the PKI directory has none.
      - V(false) fails instead, naming the directory. C(renew.yml) uses it, so a schedule never starts a new CA.
    type: bool
    default: true
  name_constraints:
    description:
      - Name constraints written into the CA certificate when it is created. Chrome 112 and later, Firefox and OpenSSL
        enforce them, so the CA cannot vouch for sites outside the fleet even when a browser trusts it.
      - They are part of the CA certificate, so an existing CA keeps the ones it has; a difference is reported as a
        warning. Other constraints mean a new CA (the collection's C(docs/name-constraints.md)).
      - A name type without a permitted subtree stays unconstrained, so give both when you use both.
      - Mbed TLS (ESP-IDF) clients cannot load a CA certificate with name constraints; leave them out for a fleet whose
        firmware verifies servers against the fleet CA.
    type: dict
    suboptions:
      preset:
        description:
          - V(private) permits the private and local networks (RFC 1918, V(100.64.0.0/10), link-local, loopback,
            V(fc00::/7)) and the domains V(internal), V(home.arpa), V(local), V(lan), V(localhost) and V(test). Add
            your own domain in O(name_constraints.permitted_dns_domains).
          - V(none) adds nothing.
          - Defaults to the host variable C(fleet_pki_ca_name_constraints), then V(none).
        type: str
        choices: [none, private]
      permitted_ip_networks:
        description:
          - IP networks (CIDR) the CA may certify, added to those of O(name_constraints.preset).
          - Catch-all ranges (V(0.0.0.0/0), V(::/0)) are refused.
        type: list
        elements: str
        default: []
      permitted_dns_domains:
        description:
          - DNS domains the CA may certify, each with every name below it, added to those of O(name_constraints.preset).
          - A leading dot (V(.example.com)) permits the names below the domain only.
        type: list
        elements: str
        default: []
notes:
  - The CA key is never printed or returned.
seealso:
  - module: fleet.pki.certificate
  - module: fleet.pki.trust_anchor
"""

EXAMPLES = r"""
- name: Ensure the fleet CA
  fleet.pki.authority:
    pki_dir: /srv/fleet/pki
    common_name: Example Fleet Root CA
    organization: Example Ltd
  run_once: true

- name: Ensure an encrypted, name-constrained CA
  fleet.pki.authority:
    common_name: Plant 4 Devices CA
    passphrase: "{{ vault_fleet_ca_passphrase }}"
    name_constraints:
      permitted_ip_networks: [10.20.0.0/16]
      permitted_dns_domains: [devices.plant4.example]
  run_once: true

- name: Ensure a CA for private networks and the fleet's own domain only
  fleet.pki.authority:
    common_name: Plant 4 Devices CA
    name_constraints:
      preset: private
      permitted_dns_domains: [plant4.example.com]
  run_once: true

- name: Ensure the fleet CA and keep its path results
  fleet.pki.authority:
    common_name: Example Fleet Root CA
  register: fleet_ca
  run_once: true

- name: Offer the Apple profile and the DER certificate on the intranet web server
  ansible.builtin.copy:
    src: "{{ item.src }}"
    dest: "/var/www/html/{{ item.dest }}"
    mode: "0644"
  loop:
    - {src: "{{ fleet_ca.mobileconfig_path }}", dest: fleet-ca.mobileconfig}
    - {src: "{{ fleet_ca.der_path }}", dest: fleet-ca.crt}
"""

RETURN = r"""
pki_dir:
  description: The PKI directory.
  returned: always
  type: str
renewed:
  description: Whether the CA certificate was renewed with the same key (or would be, in check mode).
  returned: always
  type: bool
renewal_reason:
  description: Why the CA certificate was renewed.
  returned: when O(renew_before) made the CA certificate due
  type: str
  sample: the CA certificate has 700 days left (until 2028-10-30), renew_before is 20% of the lifetime
cert_path:
  description: Path of the CA certificate.
  returned: success, except in check mode before the CA exists
  type: str
  sample: /srv/fleet/pki/ca/ca.crt
fingerprint_sha256:
  description: SHA-256 fingerprint of the CA certificate.
  returned: success, except in check mode before the CA exists
  type: str
  sample: "3A:91:...:0F"
not_after:
  description: End of the CA certificate's validity (UTC, ISO 8601).
  returned: success, except in check mode before the CA exists
  type: str
  sample: "2036-11-24T23:00:00Z"
subject:
  description: Subject of the CA certificate (RFC 4514).
  returned: success, except in check mode before the CA exists
  type: str
  sample: CN=Example Fleet Root CA,O=Example Ltd
label:
  description: The CA's stable label in trust stores (sanitised CN and a short fingerprint).
  returned: success, except in check mode before the CA exists
  type: str
  sample: Example_Fleet_Root_CA-3a91c2d4e5f60718
certificate:
  description: The CA certificate in PEM (public).
  returned: success, except in check mode before the CA exists
  type: str
der_path:
  description:
    - Path of the CA certificate in DER, for Android and Windows clients.
    - In check mode the file may not have been written yet.
  returned: success, except in check mode before the CA exists
  type: str
  sample: /srv/fleet/pki/ca/ca.der.crt
mobileconfig_path:
  description:
    - Path of the Apple configuration profile (unsigned XML plist) that installs the CA as a root on iOS, iPadOS
      and macOS.
    - In check mode the file may not have been written yet.
  returned: success, except in check mode before the CA exists
  type: str
  sample: /srv/fleet/pki/ca/ca.mobileconfig
"""
