# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preset knob (fleet_pki_ca_name_constraints) and the CN rule, through provision.yml."""

from __future__ import annotations

import os

from conftest import Fleet, recap
from cryptography import x509

from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import PRIVATE_DOMAINS, PRIVATE_NETWORKS


def test_the_private_preset_knob_constrains_a_new_ca_and_every_device_is_certified(fleet):
    fleet.group_vars.update(fleet_pki_ca_name_constraints="private", authority_permitted_dns_domains=["plant4.example"])
    fleet.write()
    _rc, output = fleet.playbook()
    assert all(counts["failed"] == 0 for counts in recap(output).values()), output
    with open(os.path.join(fleet.pki_dir, "ca", "ca.crt"), "rb") as handle:
        extension = x509.load_pem_x509_certificate(handle.read()).extensions.get_extension_for_class(x509.NameConstraints)
    subtrees = extension.value.permitted_subtrees
    assert [str(name.value) for name in subtrees if isinstance(name, x509.IPAddress)] == list(PRIVATE_NETWORKS)
    assert [name.value for name in subtrees if isinstance(name, x509.DNSName)] == [*PRIVATE_DOMAINS, "plant4.example"]
    for name in fleet.devices:
        assert os.path.isfile(fleet.device_file(name, "cert")), name
    # A second run with the knob changed keeps the CA and says so.
    fleet.group_vars["fleet_pki_ca_name_constraints"] = "none"
    fleet.write()
    _rc, output = fleet.playbook()
    assert "the existing CA has other name constraints than requested" in output, output


def test_an_unknown_preset_is_refused_before_anything_is_written(fleet):
    fleet.group_vars["fleet_pki_ca_name_constraints"] = "privat"
    fleet.write()
    rc, output = fleet.playbook(check=False)
    assert rc != 0 and "fleet_pki_ca_name_constraints" in output and "privat" in output, output
    assert not os.path.exists(os.path.join(fleet.pki_dir, "ca", "ca.crt"))


def test_a_dotted_inventory_name_outside_the_dns_constraints_is_refused_naming_host_and_cn(tmp_path):
    fleet = Fleet(tmp_path, {"cam-05.bank.example": "127.0.0.21", "127.0.0.22": "127.0.0.22", "dev3": "127.0.0.23"})
    fleet.group_vars.update(fleet_pki_ca_name_constraints="private")
    fleet.write()
    # One batch (the sorted inventory puts a refused host first, and a canary batch that fails stops the play).
    rc, output = fleet.playbook("-e", '{"fleet_pki_batches": ["100%"], "fleet_pki_max_fail_percentage": 100}', check=False)
    assert rc != 0, output
    assert ("host cam-05.bank.example: CN 'cam-05.bank.example' is outside the CA's name constraints "
            "(permitted: internal, home.arpa, local, lan, localhost, test)") in output, output
    assert "host 127.0.0.22: CN '127.0.0.22' is outside" in output, output
    assert recap(output)["dev3"]["failed"] == 0, output
