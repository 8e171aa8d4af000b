# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A damaged certificate on a device is 'unreadable' and gets replaced: it must not crash the decision.

Random garbage already reads as unreadable (test_hostile_input.py). These are the subtler kinds the fuzzing of
certificate_info found: the PEM and the outer DER load, and cryptography raises only when a part is first read
(a SAN whose SEQUENCE became a SET), or raises InvalidVersion, which is no ValueError.
"""

from __future__ import annotations

import base64

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import held_certificate
from ansible_collections.fleet.pki.plugins.module_utils._crypto import serialization
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key


def _pem(der):
    return "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der).decode() + "-----END CERTIFICATE-----\n"


def _san_as_a_set(der):
    san = der.index(bytes.fromhex("551d11"))  # the OID 2.5.29.17, then OCTET STRING, then the SEQUENCE of names
    at = der.index(b"\x30", der.index(b"\x04", san))
    return der[:at] + b"\x31" + der[at + 1:]


def _version_five(der):
    at = der.index(bytes.fromhex("a003020102")) + 4  # [0] EXPLICIT INTEGER 2 (v3) becomes 5
    return der[:at] + b"\x05" + der[at + 1:]


@pytest.fixture
def leaf_der(authority):
    key = generate_private_key("ec-p256")
    certificate = issue(authority, authority.private_key(), key.public_key(),
                        LeafRequest("dev1", (("IP", "10.0.0.1"),), "server", 30))
    return certificate.public_bytes(serialization.Encoding.DER)


def test_the_undamaged_certificate_is_present(authority, leaf_der):
    held, certificate = held_certificate(_pem(leaf_der), "matches", authority.certificate)
    assert held.state == "present" and held.issued_by_current_ca
    assert certificate.public_bytes(serialization.Encoding.DER) == leaf_der


@pytest.mark.parametrize("damage", [_san_as_a_set, _version_five], ids=["SAN as a SET", "version 5"])
def test_a_damaged_certificate_on_a_device_is_unreadable_not_a_crash(authority, leaf_der, damage):
    held, certificate = held_certificate(_pem(damage(leaf_der)), "matches", authority.certificate)
    assert held.state == "unreadable" and certificate is None
