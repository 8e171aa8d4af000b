#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: artifacts
short_description: Issue or keep the files of every artefact-only device of the play, in one task
version_added: 0.1.0
description:
  - For every host of the play whose C(fleet_pki_delivery) is V(artifacts), makes the same decision as
    M(fleet.pki.certificate) does per host (issue, renew or keep, from the same inventory knobs), and writes the
    same files into C(<pki_dir>/hosts/<host>/) on the controller, firmware exports included.
  - One task for the whole fleet instead of one per host. The CA key is loaded once. Hosts are committed 1,000 at a
    time; for each 1,000, every due certificate is signed under one lock with one write of the index, and all files
    are committed together (temp files, one sync, then the renames). So 10,000 devices take seconds, and the
    controller holds no more than 1,000 hosts' pending files in memory (see C(docs/performance.md)).
  - A failure part-way (a full disk) leaves every host whole, with its old files or its new ones. The hosts of the
    commits before it keep their new files; the next run converges the rest.
  - Every host's settings are checked first; any error (a bad SAN, an IP two hosts claim, a PKCS#12 format without a
    password) fails the task, naming each host and value, before anything is written.
  - Hosts whose delivery is V(device) are left out and listed in RV(left_out); M(fleet.pki.certificate) serves them.
  - Runs once, in the controller's process. It makes no connection to any host. C(playbooks/artifacts.yml) runs it.
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
    details: Reports per host what would be issued or exported; writes nothing and signs nothing.
  diff_mode:
    support: full
    details: One entry per host with a decision (held and wanted certificate) and per host whose exports change.
  idempotent:
    support: full
  safe_file_operations:
    support: full
    details:
      - Every file is written to a temp file beside it with its final mode; after one C(sync) all are renamed, and
        synced again. After a crash each file is the old or the new one, never half-written.
options:
  hosts:
    description: The hosts to consider. Defaults to the hosts of the play (C(ansible_play_hosts)).
    type: list
    elements: str
  ca_passphrase:
    description: Passphrase of the CA key. Defaults to C(fleet_pki_ca_passphrase). Only needed when signing.
    type: str
notes:
  - The result holds one small entry per host. Use C(run_once), as C(playbooks/artifacts.yml) does; without it every
    host of the play would run the whole batch.
seealso:
  - module: fleet.pki.certificate
  - name: Firmware devices
    description: The files and exports an artefact-only device gets.
    link: https://github.com/fleet-pki/fleet.pki/blob/main/docs/devices-firmware.md
"""

EXAMPLES = r"""
- name: Issue or keep every firmware device's files
  fleet.pki.artifacts:
  run_once: true
  register: firmware

- name: Show which devices got new files
  ansible.builtin.debug:
    var: firmware.issued
"""

RETURN = r"""
hosts:
  description: Per artefact-only host, the outcome, as M(fleet.pki.certificate) reports it.
  returned: success
  type: dict
  sample:
    fw-0001:
      changed: true
      issued: true
      reasons: ["missing: no certificate on the host"]
      serial: 5F1A0C7E9B2D4E6F8A1B3C5D7E9F0A2B
      not_after: "2027-11-27T10:00:00Z"
      sans: ["IP:10.40.0.1"]
      fingerprint_sha256: 3f2a9c0d1e4b5a6f...
      changed_files: [key, cert, chain, fullchain]
      changed_artifacts: [cert.der, key.der]
issued:
  description: The hosts that got a new certificate (in check mode, that would get one).
  returned: success
  type: list
  elements: str
  sample: [fw-0001]
left_out:
  description: Hosts of the play whose delivery is not V(artifacts).
  returned: success
  type: list
  elements: str
  sample: [gw-01]
"""
