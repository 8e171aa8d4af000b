#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Validate the certificate settings of every host in the play before anything is written
version_added: 0.1.0
description:
  - Derives and validates the SANs, profile, key type, validity and renewal threshold of every host, from the same
    inventory knobs that M(fleet.pki.certificate) reads, and refuses an IP address that more than one host claims.
  - Fails with one line per problem, each naming the host and the value, so a bad inventory stops the run before
    any certificate is issued.
  - Runs once, in the controller's process. It makes no connection to any host.
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
    support: none
  idempotent:
    support: full
  safe_file_operations:
    support: N/A
    details: It writes nothing.
options:
  hosts:
    description: The hosts to check. Defaults to every host of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
seealso:
  - module: fleet.pki.certificate
"""

EXAMPLES = r"""
- name: Check the whole fleet's certificate settings first
  fleet.pki.preflight:
  run_once: true
"""

RETURN = r"""
hosts:
  description: The SANs each checked host's certificate will carry.
  returned: success
  type: dict
  sample: {cam-01: ["IP:192.0.2.11"], cam-02: ["IP:192.0.2.12", "DNS:cam-02.example.net"]}
"""
