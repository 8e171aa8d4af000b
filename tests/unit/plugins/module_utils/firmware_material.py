# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet CA and one artefact-only device directory (key.pem, cert.pem, chain.pem) for the export tests."""

from __future__ import annotations

import os

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority, load_authority
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._crypto import serialization
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key

DEVICE_IP = "10.20.0.57"
SANS = (("IP", DEVICE_IP), ("DNS", "esp-07.plant4.example"))


class Device:
    """<root>/pki (the CA) and <root>/hosts/<host>/ holding the PEM files as the certificate action writes them."""

    def __init__(self, root, host="esp-07", key_type="ec-p256", ca_key_type="ec-p256"):
        self.host = host
        pki_dir = os.path.join(str(root), "pki")
        ensure_authority(pki_dir, AuthoritySettings("Plant 4 Test CA", key_type=ca_key_type))
        self.authority = load_authority(pki_dir)
        self.directory = os.path.join(str(root), "hosts", host)
        os.makedirs(self.directory)
        self.chain_pem = self.authority.pem
        self.reissue(key_type)

    def reissue(self, key_type="ec-p256"):
        self.key = generate_private_key(key_type)
        self.certificate = issue(self.authority, self.authority.private_key(), self.key.public_key(),
                                 LeafRequest(self.host, SANS, "server", 365))
        self.key_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()
        self.cert_pem = to_pem(self.certificate)
        for name, text in (("key.pem", self.key_pem), ("cert.pem", self.cert_pem), ("chain.pem", self.chain_pem)):
            with open(self.path(name), "w", encoding="ascii") as handle:
                handle.write(text)
        os.chmod(self.path("key.pem"), 0o600)

    def path(self, name):
        return os.path.join(self.directory, name)

    def read(self, name):
        with open(self.path(name), "rb") as handle:
            return handle.read()
