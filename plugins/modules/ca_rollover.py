#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_rollover
short_description: Move the fleet to a new CA key, with an overlap in which clients trust both
version_added: 0.1.0
description:
  - Rolls the fleet over from its CA to a new one with a new key, in three steps. Each step is one state of the PKI
    directory; a step that was interrupted finishes when it runs again, and a step that is done reports no change.
  - V(prepare) creates the next CA in C(<pki_dir>/next/ca/). The trust role then installs it on clients next to the
    current one. Devices keep their certificates.
  - V(switch) makes the next CA the current one (C(ca/)) and keeps the old one in C(previous/ca/). The next device
    run re-issues every device certificate under the new CA (reason C(not signed by the current CA)), while clients
    still trust both.
  - V(retire) moves C(previous/) to C(retired/<label>/), after the old CA was removed from the clients' trust stores.
    Keys are moved, never deleted.
  - C(playbooks/rotate-ca.yml) runs the steps with the trust stores and the devices in between; see the collection's
    C(docs/ca-rotation.md).
  - To keep the key and only extend the CA certificate, use O(fleet.pki.authority#module:renew_before) instead.
  - Runs entirely on the control node, in the controller's process (an action plugin).
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
    details: The diff names the step and the directories it moves.
  idempotent:
    support: full
  safe_file_operations:
    support: full
    details: The new CA is written like M(fleet.pki.authority) writes one; steps move whole directories with rename.
options:
  pki_dir:
    description:
      - The PKI directory. Defaults to the host variable C(fleet_pki_dir), then C(pki) beside the inventory.
    type: path
  step:
    description: The step to take.
    type: str
    required: true
    choices: [prepare, switch, retire]
  passphrase:
    description:
      - Passphrase that encrypts the new CA key (V(prepare)). Defaults to the host variable C(fleet_pki_ca_passphrase),
        so the new CA gets the same passphrase as the current one.
      - It must open the current CA key (none for an unencrypted one). Without it, or with a wrong one, V(prepare) fails
        before anything is written, so a rollover never leaves the fleet with a less protected CA key.
    type: str
  common_name:
    description:
      - Common name of the new CA (V(prepare)). It must differ from the current CA's, so that no trust store mixes
        the two up.
      - Defaults to the current CA's common name followed by the year and month, for example C(Fleet CA 2026-11).
    type: str
  key_type:
    description: Key type of the new CA (V(prepare)). Defaults to the key type of the current CA.
    type: str
    choices: [ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096]
  validity_days:
    description: Lifetime of the new CA certificate in days (V(prepare)).
    type: int
    default: 3650
notes:
  - The new CA gets the organization and the name constraints of the current one.
  - A CA key is never printed, returned or deleted. V(switch) and V(retire) move the old key with its directory (a
    rename, never a copy over it), so an interrupted step leaves both keys in the PKI directory.
seealso:
  - module: fleet.pki.authority
  - module: fleet.pki.trust_anchor
"""

EXAMPLES = r"""
- name: Prepare the next CA
  fleet.pki.ca_rollover:
    step: prepare
  run_once: true

- name: Switch the fleet to the next CA
  fleet.pki.ca_rollover:
    step: switch
  run_once: true
"""

RETURN = r"""
step:
  description: The step that was taken.
  returned: always
  type: str
  sample: switch
pki_dir:
  description: The PKI directory.
  returned: always
  type: str
current:
  description: The current CA (in C(ca/)), or null.
  returned: always
  type: dict
  contains:
    label:
      description: The CA's label in trust stores.
      type: str
    subject:
      description: The CA's subject.
      type: str
    not_after:
      description: End of the CA certificate's validity.
      type: str
    fingerprint_sha256:
      description: SHA-256 fingerprint of the CA certificate.
      type: str
    cert_path:
      description: Path of the CA certificate.
      type: str
next:
  description: The next CA (in C(next/ca/)), or null; the same keys as RV(current).
  returned: always
  type: dict
previous:
  description: The previous CA (in C(previous/ca/)), or null; the same keys as RV(current).
  returned: always
  type: dict
retired_label:
  description: The label of the CA that V(retire) moved to C(retired/).
  returned: when a CA was retired
  type: str
"""
