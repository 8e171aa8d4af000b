# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Device-to-server mTLS in the lab: devices publish to a real Mosquitto broker that requires a client
certificate from the fleet CA.

dev1 (Debian 12) is the broker: it gets a `server` certificate from provision.yml and listens on 8883
with `require_certificate true` and the fleet's CRL. dev2 (Debian 13) and dev3 (Debian 12) are devices
with the `client` profile. dev4 is a stranger: no certificate, or one from another CA.

- dev2 and dev3 publish with their delivered certificate (QoS 1, so the broker must accept the message),
  and a subscriber with its own certificate receives it;
- a client without a certificate, and one with a certificate of another CA, are refused;
- after dev3 is revoked (revoke.yml, which delivers the CRL to the broker and reloads mosquitto), dev3 is
  refused and dev2 is still accepted.
"""

from __future__ import annotations

import os
import time

import pytest
import yaml
from conftest import recap
from lab_helpers import SSH_VARS, lab, missing_lab_tools, playbook, ssh

BROKER = ("dev1", "10.214.0.11")
DEVICES = {"dev2": "10.214.0.12", "dev3": "10.214.0.13"}
STRANGER = ("dev4", "10.214.0.14")
BROKER_DIR = "/etc/mosquitto/fleet"
DEVICE_DIR = "/etc/fleet-pki"
MOSQUITTO_CONF = f"""# fleet.pki lab: TLS with client certificates from the fleet CA, and its CRL
per_listener_settings false
listener 8883 0.0.0.0
cafile {BROKER_DIR}/chain.pem
certfile {BROKER_DIR}/fullchain.pem
keyfile {BROKER_DIR}/key.pem
crlfile {BROKER_DIR}/crl.pem
require_certificate true
use_identity_as_username true
"""


pytestmark = pytest.mark.skipif(missing_lab_tools() is not None, reason=str(missing_lab_tools()))


def publish(address, message, cert_dir=DEVICE_DIR, with_cert=True):
    """mosquitto_pub at QoS 1 from a lab machine to the broker: rc 0 only when the broker took the message."""
    identity = f" --cert {cert_dir}/cert.pem --key {cert_dir}/key.pem" if with_cert else ""
    return ssh(address, f"mosquitto_pub -h {BROKER[1]} -p 8883 --cafile {cert_dir}/chain.pem{identity} "
                        f"-q 1 -t fleet/lab -m '{message}' -i pub-{message}")


class MtlsLab:
    def __init__(self, root):
        self.root = str(root)
        self.inventory = os.path.join(self.root, "hosts.yml")
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"all": {"vars": dict(SSH_VARS, fleet_pki_dir=os.path.join(self.root, "pki")), "children": {
                "devices": {"hosts": {
                    # The broker's key is read by the mosquitto user: group mosquitto, mode 0640.
                    BROKER[0]: {"ansible_host": BROKER[1], "fleet_pki_profile": "server", "fleet_pki_dest": BROKER_DIR,
                                "fleet_pki_group": "mosquitto", "device_key_mode": "0640",
                                "fleet_pki_crl_dest": f"{BROKER_DIR}/crl.pem",
                                "fleet_pki_reload_services": ["mosquitto"]},
                    **{name: {"ansible_host": address, "fleet_pki_profile": "client"} for name, address in DEVICES.items()},
                }},
            }}}, handle)

    def playbook(self, path, *args):
        return playbook(self.inventory, path, *args)[1]


def restart_broker():
    rc, out = ssh(BROKER[1], "systemctl restart mosquitto && sleep 1 && systemctl is-active mosquitto")
    assert rc == 0, out


@pytest.fixture(scope="module")
def mtls(tmp_path_factory):
    lab("up", "4")
    try:
        fleet = MtlsLab(tmp_path_factory.mktemp("lab-mtls"))
        fleet.playbook("playbooks/provision.yml")
        rc, out = ssh(BROKER[1], "cat > /etc/mosquitto/conf.d/fleet.conf", stdin=MOSQUITTO_CONF)
        assert rc == 0, out
        restart_broker()
        yield fleet
    finally:
        lab("down")


def test_devices_with_their_client_certificate_are_accepted(mtls):
    rc, out = ssh(DEVICES["dev3"], f"mosquitto_sub -h {BROKER[1]} -p 8883 --cafile {DEVICE_DIR}/chain.pem "
                                   f"--cert {DEVICE_DIR}/cert.pem --key {DEVICE_DIR}/key.pem -t fleet/lab -C 1 -W 20 "
                                   "> /tmp/received 2>&1 & sleep 2; echo started")
    assert rc == 0, out
    rc, out = publish(DEVICES["dev2"], "hello-from-dev2")
    assert rc == 0, out
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _rc, received = ssh(DEVICES["dev3"], "cat /tmp/received")
        if "hello-from-dev2" in received:
            break
        time.sleep(1)
    assert "hello-from-dev2" in received, received
    rc, out = publish(DEVICES["dev3"], "hello-from-dev3")
    assert rc == 0, out


def test_a_client_without_a_certificate_is_refused(mtls):
    rc, out = ssh(STRANGER[1], f"mkdir -p {DEVICE_DIR}")
    assert rc == 0, out
    with open(os.path.join(mtls.root, "pki", "ca", "ca.crt"), encoding="ascii") as handle:
        rc, out = ssh(STRANGER[1], f"cat > {DEVICE_DIR}/chain.pem", stdin=handle.read())
    assert rc == 0, out
    rc, out = publish(STRANGER[1], "no-certificate", with_cert=False)
    assert rc != 0, out  # the TLS handshake fails: the broker demands a certificate


def test_a_client_with_a_certificate_of_another_ca_is_refused(mtls):
    rc, out = ssh(STRANGER[1], f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                               f"-subj /CN=dev4 -keyout {DEVICE_DIR}/key.pem -out {DEVICE_DIR}/cert.pem 2>&1")
    assert rc == 0, out
    rc, out = publish(STRANGER[1], "foreign-certificate")
    assert rc != 0, out


def test_a_revoked_device_is_refused_and_the_others_are_not(mtls):
    output = mtls.playbook("playbooks/revoke.yml", "-e", "revoke_hosts=dev3", "-e", "revoke_reason=keyCompromise")
    assert recap(output)[BROKER[0]]["changed"] >= 1, output  # the new CRL went to the broker, which reloaded
    rc, out = publish(DEVICES["dev3"], "revoked-dev3")
    assert rc != 0, out
    rc, out = publish(DEVICES["dev2"], "still-fine-dev2")
    assert rc == 0, out
