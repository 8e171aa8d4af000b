#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: revocation
short_description: Revoke fleet certificates and publish the CRL of the fleet CA
version_added: 0.1.0
description:
  - Marks certificates as revoked in C(<pki_dir>/index.txt) and publishes the CA's certificate revocation list as
    C(<pki_dir>/crl.pem) (PEM) and C(<pki_dir>/crl.der) (DER), mode 0644.
  - The index lines change exactly as C(openssl ca -revoke -crl_reason <reason>) changes them (status C(R) and the
    revocation field C(YYMMDDHHMMSSZ,reason)), so openssl tools keep working on the PKI directory. The reason
    V(unspecified) is recorded as C(openssl ca -revoke) without C(-crl_reason) records it (the time alone), and
    its CRL entry has no reasonCode extension, as RFC 5280 recommends.
  - Certificates are chosen by host (O(hosts)) or by serial (O(serials)). A host is matched by the certificate
    subject the index keeps, so a host that was already removed from the inventory (decommissioned) can still be
    revoked. Every valid certificate of that host is revoked. Revoking a certificate that is already revoked
    changes nothing.
  - The CRL carries a CRL number (kept in C(<pki_dir>/crlnumber) in the hex form C(openssl ca -gencrl) uses, so
    the two can take turns), the authority key identifier, thisUpdate (one hour back, like certificates, for
    verifiers whose clock runs behind), nextUpdate (O(crl_validity_days) later) and every revoked certificate
    with its revocation date and reason.
  - The CRL is signed again only when its content would change, when it is missing, unreadable or signed by
    another CA, when its validity period differs from O(crl_validity_days), or when more than half of that period
    has passed. Run the module regularly (for example from C(playbooks/revoke.yml) without hosts, or from the
    renewal schedule) so the published CRL never reaches its nextUpdate; clients that check CRLs refuse every
    certificate once the CRL has expired.
  - With neither O(hosts) nor O(serials) the module only keeps the CRL current (and publishes the first one).
  - The module acts on the PKI directory, not on the host it runs for, and makes no connection to that host. Run
    it once, with C(run_once=true) in a play over fleet hosts (the first host's C(fleet_pki_dir) and
    C(fleet_pki_ca_passphrase) are used) or for C(localhost) with O(pki_dir) given. Concurrent runs are safe,
    the index and the CRL change under the PKI directory's lock, and every file is replaced atomically.
  - A revoked host that is still in the inventory gets a new certificate at its next provision (the renewal
    reason C(revoked)); the module warns about it. To decommission a device, remove it from the inventory too.
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
    details: Reports what would be revoked and whether the CRL would be published; writes nothing, not even the lock file.
  diff_mode:
    support: full
    details: Shows the index lines before and after, and the CRL that would be published.
  idempotent:
    support: full
    details: A second run changes nothing, until more than half of the CRL's validity has passed.
  safe_file_operations:
    support: full
    details: Files are written through a temporary file in the same directory with their final mode, then renamed.
options:
  pki_dir:
    description:
      - The PKI directory (with C(ca/), C(index.txt)).
      - Relative paths start at the inventory directory.
      - Defaults to the host variable C(fleet_pki_dir), else C(pki) beside the inventory.
    type: path
  hosts:
    description:
      - Inventory names of hosts whose valid certificates are revoked. The hosts need not be in the inventory any more.
      - A host without any certificate in the index is an error (a typo must not pass silently).
    type: list
    elements: str
    default: []
  serials:
    description:
      - Serials of certificates to revoke, in hex as C(openssl x509 -noout -serial) prints them (colons, C(0x) and
        case do not matter).
      - A serial that is not in the index is an error.
    type: list
    elements: str
    default: []
  reason:
    description:
      - The RFC 5280 revocation reason for every certificate this task revokes.
      - Use V(keyCompromise) when the device key may have leaked (a stolen or lost device), V(cessationOfOperation)
        for a decommissioned device, V(superseded) when a replacement certificate was issued, V(affiliationChanged)
        when the device changed owner.
      - C(certificateHold) is not offered (this collection never un-revokes), nor are C(privilegeWithdrawn) and
        C(aACompromise), which C(openssl ca) cannot read back from the index.
    type: str
    choices: [unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation]
    default: unspecified
  ca_passphrase:
    description:
      - Passphrase of the CA key. Keep it in ansible-vault.
      - Defaults to the host variable C(fleet_pki_ca_passphrase).
      - Checked on every run, in check mode too, before anything is written.
    type: str
  crl_validity_days:
    description:
      - Days between the CRL's thisUpdate and nextUpdate (plus the one hour thisUpdate is set back). From 1 to 365.
      - The CRL is signed again once half of this has passed, so run the module at least that often.
      - Defaults to the host variable C(fleet_pki_crl_validity_days), else V(30).
    type: int
notes:
  - The CA key and its passphrase are never printed or returned.
  - Issued certificates carry no CRL distribution point, so clients do not fetch the CRL themselves. Give it to the
    software that checks peers (nginx C(ssl_crl), C(openssl verify -crl_check), mosquitto C(crlfile)); see the
    collection's C(docs/revocation.md) and the CRL delivery of C(playbooks/revoke.yml).
seealso:
  - module: fleet.pki.authority
  - module: fleet.pki.certificate
"""

EXAMPLES = r"""
- name: Revoke the certificates of a stolen device
  fleet.pki.revocation:
    hosts: [cam-07]
    reason: keyCompromise
  run_once: true

- name: Revoke one certificate by serial
  fleet.pki.revocation:
    serials: ["4F:1A:...:9C"]
    reason: superseded
  run_once: true

- name: Keep the CRL current (from the renewal schedule), with a week of validity
  fleet.pki.revocation:
    crl_validity_days: 7
  run_once: true
  register: fleet_crl

- name: Deliver the CRL to a reverse proxy that checks client certificates
  ansible.builtin.copy:
    src: "{{ fleet_crl.crl_path }}"
    dest: /etc/nginx/fleet-crl.pem
    mode: "0644"
"""

RETURN = r"""
pki_dir:
  description: The PKI directory.
  returned: always
  type: str
hosts:
  description: The hosts asked for in O(hosts) (a comma-separated string given on the command line becomes a list).
  returned: success
  type: list
  elements: str
  sample: [cam-07]
revoked:
  description:
    - The certificates this run revoked (in check mode, would revoke), in index order.
  returned: success
  type: list
  elements: dict
  contains:
    serial:
      description: Serial, upper-case hex.
      type: str
      sample: 9C4E0F6A1B2C3D4E5F60718293A4B5C6
    subject:
      description: Subject as the index keeps it.
      type: str
      sample: /CN=cam-07
    host:
      description: The host asked for, else the inventory name the subject stands for.
      type: str
      sample: cam-07
    reason:
      description: Revocation reason.
      type: str
      sample: keyCompromise
    revocation_date:
      description: Revocation time (UTC, ISO 8601).
      type: str
      sample: "2026-11-26T12:00:00Z"
already_revoked:
  description: Certificates that were asked for but had been revoked before, with their recorded reason and date.
  returned: success
  type: list
  elements: dict
crl_path:
  description: Path of the CRL in PEM.
  returned: success
  type: str
  sample: /srv/fleet/pki/crl.pem
crl_der_path:
  description: Path of the CRL in DER.
  returned: success
  type: str
  sample: /srv/fleet/pki/crl.der
crl_number:
  description: CRL number of the published CRL (in check mode, of the CRL that would be published).
  returned: success
  type: int
  sample: 4
crl_published:
  description: Whether this run signed a new CRL (in check mode, would sign one).
  returned: success
  type: bool
crl_reasons:
  description: Why the CRL was signed again; empty when it was kept.
  returned: success
  type: list
  elements: str
  sample: ["entries differ: +9C4E0F6A1B2C3D4E5F60718293A4B5C6"]
crl_entries:
  description: Number of revoked certificates the CRL lists.
  returned: success
  type: int
this_update:
  description: thisUpdate of the CRL (UTC, ISO 8601).
  returned: success
  type: str
next_update:
  description: nextUpdate of the CRL (UTC, ISO 8601). Publish again before then.
  returned: success
  type: str
  sample: "2026-12-26T12:00:00Z"
"""
