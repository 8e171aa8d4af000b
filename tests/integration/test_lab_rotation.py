# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Both CA-rotation paths in the lab, with a client that must reach every device after every step.

Three nginx devices (dev1-dev3) and one client (dev4) that trusts through its system store only.
The CA is made short-lived (1 day) so that its renewal can be forced with renew_before 97%.

1. provision: the client reaches every device.
2. renew.yml renews the CA certificate with the same key: devices keep their leaves, the client gets
   the new CA certificate, and a verifier that trusts only the new certificate accepts the old leaves.
3. rotate_ca.yml prepare / switch / retire: a new CA key; after each step the client still reaches
   every device; after switch the devices serve leaves of the new CA; after retire the client no longer
   trusts anything of the old key (an old leaf fails to verify there).

The tests run in order and build on each other.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml
from conftest import recap
from lab_helpers import PREPARE, SSH_VARS, lab, missing_lab_tools, playbook, ssh

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import ca_label

x509 = pytest.importorskip("cryptography.x509")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
NameOID = x509.oid.NameOID

DEVICES = {"dev1": "10.214.0.11", "dev2": "10.214.0.12", "dev3": "10.214.0.13"}
CLIENT = ("dev4", "10.214.0.14")
MARKER = "fleet.pki lab device"
ANCHORS = "/usr/local/share/ca-certificates"


pytestmark = pytest.mark.skipif(missing_lab_tools() is not None, reason=str(missing_lab_tools()))


def openssl(*args, stdin=None):
    proc = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, check=False, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


class RotationLab:
    def __init__(self, root):
        self.root = str(root)
        self.pki = os.path.join(self.root, "pki")
        self.inventory = os.path.join(self.root, "hosts.yml")
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"all": {
                "vars": dict(SSH_VARS, fleet_pki_dir=self.pki, fleet_pki_reload_services=["nginx"], fleet_pki_verify_port=443,
                             authority_validity_days=1),
                "children": {
                    "devices": {"hosts": {name: {"ansible_host": address} for name, address in DEVICES.items()}},
                    "clients": {"hosts": {CLIENT[0]: {"ansible_host": CLIENT[1], "fleet_pki_trust_stores": ["system"]}}},
                },
            }}, handle)
        self.old_leaf = None

    def playbook(self, path, *args):
        return playbook(self.inventory, path, *args)[1]

    def rotate(self, step):
        return self.playbook("playbooks/rotate_ca.yml", "-e", f"fleet_pki_rollover_step={step}")

    def on_client(self, command, stdin=None):
        return ssh(CLIENT[1], command, stdin=stdin, timeout=120)

    def client_reaches_every_device(self, when):
        for name, address in DEVICES.items():
            rc, page = self.on_client(f"curl -sS --max-time 10 https://{address}/")
            assert rc == 0 and MARKER in page, (when, name, page)

    def client_anchors(self):
        rc, out = self.on_client(f"ls {ANCHORS}")
        assert rc == 0, out
        return sorted(name[:-4] for name in out.split() if name.endswith(".crt"))

    @staticmethod
    def served(address):
        """The PEM of the leaf a device serves."""
        rc, out = openssl("s_client", "-connect", f"{address}:443", stdin="")
        assert rc == 0, out
        return out[out.index("-----BEGIN CERTIFICATE-----"):out.index("-----END CERTIFICATE-----") + 25] + "\n"

    def ca_file(self, *parts):
        return os.path.join(self.pki, *parts, "ca", "ca.crt")


def issuer_cn(pem):
    rc, out = openssl("x509", "-noout", "-issuer", "-nameopt", "multiline", stdin=pem)
    assert rc == 0, out
    return re.search(r"commonName\s*=\s*(.+)", out).group(1).strip()


def label_of(path):
    """The trust-store label of a CA certificate file (the collection's own derivation: it names the files)."""
    with open(path, "rb") as handle:
        certificate = x509.load_pem_x509_certificate(handle.read())
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return ca_label(names[0].value if names else "", certificate.public_bytes(serialization.Encoding.DER))


@pytest.fixture(scope="module")
def rotation(tmp_path_factory):
    lab("up", "4")
    try:
        fleet = RotationLab(tmp_path_factory.mktemp("lab-rotation"))
        fleet.playbook(PREPARE)
        yield fleet
    finally:
        lab("down")


def test_provision_and_the_client_reaches_every_device(rotation):
    rotation.playbook("playbooks/provision.yml")
    rotation.client_reaches_every_device("after provision")
    rotation.old_leaf = rotation.served(DEVICES["dev1"])
    assert issuer_cn(rotation.old_leaf) == "fleet.pki CA"
    assert rotation.client_anchors() == [label_of(rotation.ca_file())]


def test_renewing_the_ca_certificate_with_the_same_key_keeps_every_leaf(rotation, tmp_path):
    old_ca = open(rotation.ca_file(), encoding="ascii").read()
    output = rotation.playbook("playbooks/renew.yml", "-e", "fleet_pki_ca_renew_before=97%")
    assert "renewed the CA certificate with the same key" in output, output
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    assert all(re.search(rf"^{name}\s+kept$", summary, re.M) for name in DEVICES), summary
    new_ca = open(rotation.ca_file(), encoding="ascii").read()
    assert new_ca != old_ca
    (tmp_path / "old-ca.pem").write_text(old_ca)
    superseded = os.path.join(rotation.pki, "ca", "superseded", label_of(str(tmp_path / "old-ca.pem")) + ".crt")
    assert open(superseded, encoding="ascii").read() == old_ca
    # The client got the renewed certificate next to the old one, and still reaches everything.
    assert rotation.client_anchors() == sorted([label_of(rotation.ca_file()), label_of(superseded)])
    rotation.client_reaches_every_device("after the same-key renewal")
    # Leaves issued before the renewal verify with nothing but the renewed CA certificate.
    (tmp_path / "new-ca.pem").write_text(new_ca)
    (tmp_path / "old-leaf.pem").write_text(rotation.old_leaf)
    rc, out = openssl("verify", "-no-CApath", "-no-CAstore", "-CAfile", str(tmp_path / "new-ca.pem"), str(tmp_path / "old-leaf.pem"))
    assert rc == 0, out
    assert rotation.served(DEVICES["dev1"]) == rotation.old_leaf  # dev1 kept its leaf


def test_prepare_makes_the_client_trust_the_next_ca_too(rotation):
    before = rotation.client_anchors()
    output = rotation.rotate("prepare")
    assert os.path.isfile(rotation.ca_file("next")), output
    assert rotation.client_anchors() == sorted(before + [label_of(rotation.ca_file("next"))])
    rotation.client_reaches_every_device("after prepare")
    for address in DEVICES.values():
        assert issuer_cn(rotation.served(address)) == "fleet.pki CA"  # devices are not touched yet
    again = rotation.rotate("prepare")
    assert all(counts["changed"] == 0 for counts in recap(again).values()), again


def test_switch_reissues_every_device_under_the_new_ca_while_the_client_trusts_both(rotation):
    new_cn = issuer_cn_of_file(rotation.ca_file("next"))
    output = rotation.rotate("switch")
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    assert all(re.search(rf"^{name}\s+renewed\s+not signed by the current CA$", summary, re.M) for name in DEVICES), summary
    assert not os.path.exists(rotation.ca_file("next")) and os.path.isfile(rotation.ca_file("previous"))
    for address in DEVICES.values():
        assert issuer_cn(rotation.served(address)) == new_cn
    rotation.client_reaches_every_device("after switch")
    again = rotation.rotate("switch")
    assert all(counts["changed"] == 0 for counts in recap(again).values()), again


def issuer_cn_of_file(path):
    rc, out = openssl("x509", "-in", path, "-noout", "-subject", "-nameopt", "multiline")
    assert rc == 0, out
    return re.search(r"commonName\s*=\s*(.+)", out).group(1).strip()


def test_retire_removes_every_certificate_of_the_old_key_from_the_client(rotation):
    current_label = label_of(rotation.ca_file())
    output = rotation.rotate("retire")
    assert not os.path.exists(os.path.join(rotation.pki, "previous")), output
    assert rotation.client_anchors() == [current_label]
    rotation.client_reaches_every_device("after retire")
    # An old leaf no longer verifies on the client: nothing of the old key is trusted there.
    rc, out = rotation.on_client("cat > /tmp/old-leaf.pem && openssl verify -CApath /etc/ssl/certs /tmp/old-leaf.pem",
                                 stdin=rotation.old_leaf)
    assert rc != 0 and "unable to get local issuer certificate" in out, out
    retired = os.listdir(os.path.join(rotation.pki, "retired"))
    assert len(retired) == 1 and os.path.isfile(os.path.join(rotation.pki, "retired", retired[0], "ca", "ca.key"))
