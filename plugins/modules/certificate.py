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
    nothing changed, and a second one only when a new key and certificate are installed. With
    O(key_location=device), issuing costs three runs (report; make a new key on the host and return its CSR; install
    the certificate), and nothing changed still costs one.
  - Every option that has an inventory knob (C(fleet_pki_<option>)) takes that host variable as its default, so
    roles and playbooks do not have to pass them through.
  - "Firmware exports. With O(delivery=artifacts), these host variables (inventory knobs only, not task options)
    choose the exports written beside C(key.pem), C(cert.pem), C(chain.pem) and C(fullchain.pem) in
    C(<pki_dir>/hosts/<host>/). C(fleet_pki_artifact_formats) is a list of V(pem) (always made), V(der)
    (C(cert.der), C(key.der) as PKCS#8, C(ca.der)), V(der_inc) (Zephyr-style C(cert.der.inc), C(key.der.inc),
    C(ca.der.inc)), V(pkcs12) (C(<host>.p12) with key, certificate and CA) and V(c_header) (C(<prefix>.h)); the
    default is V([pem, der]), so the per-device material is loaded at run time and nothing with a key is compiled in
    unless asked for. An unknown format fails naming the host and the value, before anything is written."
  - "PKCS#12. C(fleet_pki_pkcs12_password) is required with V(pkcs12): a PKCS#12 is never written without a password.
    Keep it in ansible-vault; it is never printed or returned. C(fleet_pki_pkcs12_encryption) is V(compat)
    (the default: PBE-SHA1-3DES and a SHA-1 MAC, which older Windows, macOS and Android import) or V(modern)
    (PBES2 AES-256-CBC and a SHA-256 MAC). The file is rewritten only when it no longer opens with the password or
    holds another key, certificate, CA or level; its bytes differ on every build (random salts)."
  - "C header. C(fleet_pki_c_prefix) (default the host name with every character outside C([A-Za-z0-9_]) replaced
    by C(_), for example C(cam_01)) names the file and every identifier; an invalid prefix fails naming the host and
    the value. DER arrays C(<prefix>_<obj>_der) with C(_der_len), NUL-terminated PEM strings C(<prefix>_<obj>_pem) with
    C(_pem_len) = strlen + 1 (the mbedTLS rule), for C(cert), C(key), C(ca) and C(chain) (PEM only). With
    C(fleet_pki_c_source=true) a C(<prefix>.c) holds the definitions and the header declares them C(extern).
    C(fleet_pki_c_netburner) adds C(comp_cert), C(comp_cert_len), C(comp_key), C(comp_key_len);
    C(fleet_pki_c_freertos) adds C(keyCLIENT_CERTIFICATE_PEM), C(keyCLIENT_PRIVATE_KEY_PEM) and
    C(keyJITR_DEVICE_CERTIFICATE_AUTHORITY_PEM); C(fleet_pki_c_bearssl) adds the CA as a BearSSL trust anchor
    (C(<prefix>_TAs), C(<prefix>_TAs_NUM)) and the leaf as C(<prefix>_CHAIN). The header is deterministic."
  - Exports are written atomically and only when their content would change, with mode C(0600) when they hold the
    private key and C(0644) otherwise. Check mode writes nothing; diff mode names the export files that change.
    Exports that are no longer asked for are left in place. See C(docs/devices-firmware.md).
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
      - Where the host key is generated.
      - V(controller) makes the key on the controller and ships it to the host (never printed); it is not kept on the
        controller unless O(keep_keys=true). This works for every host, including O(delivery=artifacts).
      - V(device) makes the key on the host, which returns only a CSR; the key never leaves the host and never
        appears on the controller. The host makes it with Python C(cryptography) where it has it, else with its
        C(openssl) command. Every certificate gets a new key, made at C(<key_path>.pending); the key and certificate
        in use stay in place until the new certificate is installed.
      - The CA signs under its own policy. The CSR's signature must verify (proof of possession), and its key must
        be of O(key_type) and allowed (RSA below 2048 bits is refused). Nothing else in the CSR is used; the subject,
        SANs, CA flag, key usages and EKUs come from the inventory and the O(profile), and the task warns about
        anything the CSR asked for that was ignored (for example C(CA:TRUE) or SANs not in the inventory).
      - V(device) needs O(delivery=device). A host that switches to V(device) keeps its certificate and key until
        the next reason to issue.
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
    description:
      - With O(delivery=device), also keep a copy of the host key in C(<pki_dir>/hosts/<host>/key.pem).
      - Has no effect (and warns) with O(key_location=device), because the controller never has the key.
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

- name: Let the device make its own key; only a CSR travels
  fleet.pki.certificate:
    key_location: device
    key_type: ec-p256

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
artifacts:
  description:
    - The firmware export files of an artefact-only host, by kind (V(cert_der), V(key_der), V(ca_der),
      V(cert_der_inc), V(key_der_inc), V(ca_der_inc), V(pkcs12), V(c_header), V(c_source)), as chosen by
      C(fleet_pki_artifact_formats).
  returned: when O(delivery=artifacts)
  type: dict
  sample: {cert_der: /srv/pki/hosts/esp-07/cert.der, key_der: /srv/pki/hosts/esp-07/key.der,
           ca_der: /srv/pki/hosts/esp-07/ca.der}
changed_artifacts:
  description: The export files (names) that got new content, or would in check mode.
  returned: when O(delivery=artifacts)
  type: list
  elements: str
  sample: [esp_07.h, key.der]
key_location:
  description: Where the host key is made, V(controller) or V(device).
  returned: when O(delivery=device)
  type: str
device_runs:
  description:
    - How many module runs this task cost on the host. 1 when nothing had to be issued; 2 when a certificate was
      issued with O(key_location=controller), 3 with O(key_location=device).
  returned: when O(delivery=device)
  type: int
  sample: 1
device_key_backend:
  description: With O(key_location=device), what makes keys and CSRs on the host, V(cryptography) or V(openssl).
  returned: when O(key_location=device)
  type: str
  sample: openssl
"""
