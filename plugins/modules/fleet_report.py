#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_report
short_description: Write the fleet certificate report as JSON, Prometheus textfile and HTML
version_added: 0.1.0
description:
  - The report step of C(playbooks/report.yml). Run it once (C(run_once)) after M(fleet.pki.certificate_report) has
    registered its result on every host. It classifies every host against the CA and C(index.txt), with one clock
    reading for the whole fleet, and writes three files atomically into O(dest).
  - C(fleet.json) for programs, C(fleet.prom) in the Prometheus text format (for the node_exporter textfile
    collector), and C(fleet.html) for people, one self-contained page without script or network access.
  - 'The status of a host is one of V(ok), V(renew_due) (inside C(renew_before), by the rules of
    M(fleet.pki.certificate)), V(expired), V(revoked) (its serial is revoked in C(index.txt)), V(mismatch) (it holds
    a certificate the next provision run would replace for a reason other than time: another CA, other SANs, subject,
    profile or key type, a key that does not belong to it, a serial C(index.txt) does not know, or an older
    certificate than the newest one issued for it), V(missing) (no readable certificate), V(unreachable) or V(error)
    (the collection failed; the message says why).'
  - Runs in the controller's process. It makes no connection to any host.
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
    details: In check mode it writes nothing and returns the counts and statuses.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run writes a new report (it carries the time it was generated) and reports a change.
  safe_file_operations:
    support: full
    details: Each file is written to a temporary file in the same directory and renamed into place.
options:
  pki_dir:
    description:
      - The PKI directory with the CA and C(index.txt). Relative paths start at the inventory directory.
      - Defaults to C(fleet_pki_dir), else C(pki) beside the inventory.
    type: path
  dest:
    description: Directory for C(fleet.json), C(fleet.prom) and C(fleet.html). Default C(<pki_dir>/report).
    type: path
  prometheus_path:
    description:
      - Write the Prometheus file here instead of C(<dest>/fleet.prom), for example into node_exporter's textfile
        directory. The name should end in C(.prom).
    type: path
  hosts:
    description: The hosts to report. Defaults to every host of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
  results_from:
    description: Name of the variable that M(fleet.pki.certificate_report) registered on each host.
    type: str
    default: certificate_report
seealso:
  - module: fleet.pki.certificate_report
"""

EXAMPLES = r"""
- name: Write the fleet report
  fleet.pki.fleet_report:
    dest: /srv/reports/fleet
    results_from: certificate_report
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: The directory the report was (or, in check mode, would be) written to.
  returned: success
  type: str
paths:
  description: Paths of the three files, keys V(json), V(prometheus) and V(html).
  returned: success
  type: dict
  sample: {json: /etc/fleet/pki/report/fleet.json, prometheus: /etc/fleet/pki/report/fleet.prom,
           html: /etc/fleet/pki/report/fleet.html}
generated_at:
  description: When the report was generated (UTC, ISO 8601).
  returned: success
  type: str
  sample: '2026-11-26T12:00:00Z'
counts:
  description: Number of hosts per status.
  returned: success
  type: dict
  sample: {revoked: 0, expired: 0, mismatch: 0, missing: 0, unreachable: 1, error: 0, renew_due: 2, ok: 40}
total:
  description: Number of hosts in the report.
  returned: success
  type: int
ca_days_left:
  description: Days until the CA certificate expires.
  returned: success
  type: float
statuses:
  description: The status of each host.
  returned: success
  type: dict
  sample: {cam-01: ok, cam-02: renew_due}
"""
