# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/revoke.yml end to end: a fleet provisioned by the collection, a real TLS server, CRL-checking clients.

The devices use `fleet_pki_delivery: artifacts` (their files stay in the PKI directory) and the SAN addresses
127.0.0.111 to 127.0.0.114; the TLS server listens on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading

import pytest
from conftest import Fleet, recap

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
REVOKE = "playbooks/revoke.yml"


@pytest.fixture
def fleet(tmp_path):
    fleet = Fleet(tmp_path, {f"dev{n}": f"127.0.0.{110 + n}" for n in range(1, 5)})
    fleet.group_vars["fleet_pki_delivery"] = "artifacts"
    fleet.write()
    return fleet


def provision(fleet, *args):
    """playbooks/provision.yml for the devices (the CA and their certificates; the client's trust is not under test)."""
    return fleet.playbook("--limit", "devices", *args)


def pki(fleet, *parts):
    return os.path.join(fleet.pki_dir, *parts)


def host_file(fleet, host, name):
    return pki(fleet, "hosts", host, name)


def serial_of(path):
    result = subprocess.run([OPENSSL, "x509", "-in", path, "-noout", "-serial"], capture_output=True, text=True, check=True)
    return result.stdout.strip().split("=", 1)[1]


def snapshot(directory):
    files = {}
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, directory)] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return files


def crl_text(fleet):
    result = subprocess.run([OPENSSL, "crl", "-in", pki(fleet, "crl.pem"), "-noout", "-text"],
                            capture_output=True, text=True, check=True)
    return result.stdout


class TlsServer:
    """Python ssl on 127.0.0.1 (a free port) with a device's full chain and key; handshakes until stopped."""

    def __init__(self, fleet, host):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(host_file(fleet, host, "fullchain.pem"), host_file(fleet, host, "key.pem"))
        self._context = context
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, _address = self._socket.accept()
            except OSError:
                continue
            connection.settimeout(5)
            try:
                with self._context.wrap_socket(connection, server_side=True) as tls:
                    tls.sendall(b"fleet device\n")
                    tls.recv(1)  # until the client closes: its exit status then reflects verification only
            except (OSError, ssl.SSLError):
                pass  # a client that refuses the certificate aborts the handshake

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


@pytest.fixture
def servers():
    started = []

    def start(fleet, host):
        server = TlsServer(fleet, host)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def s_client(fleet, port, address):
    """openssl s_client checking the chain, the IP SAN and the CRL; (ok, output)."""
    command = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", pki(fleet, "ca", "ca.crt"),
               "-CRL", pki(fleet, "crl.pem"), "-crl_check", "-verify_return_error", "-verify_ip", address]
    result = subprocess.run(command, input="", capture_output=True, text=True, timeout=30, check=False)
    output = result.stdout + result.stderr
    return result.returncode == 0 and "Verify return code: 0 (ok)" in output, output


def python_client(fleet, port):
    """Python ssl with VERIFY_CRL_CHECK_LEAF; None when the handshake verifies, else the error text."""
    context = ssl.create_default_context(cafile=pki(fleet, "ca", "ca.crt"))
    context.load_verify_locations(cafile=pki(fleet, "crl.pem"))
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    context.check_hostname = False  # the SAN is the device's address; s_client checks it with -verify_ip
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw):
                return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc)


def test_revoked_device_is_refused_by_crl_checking_clients_and_reissued_at_the_next_provision(fleet, servers):
    provision(fleet)  # provision.yml publishes the first CRL (it imports revoke.yml)
    assert "No Revoked Certificates." in crl_text(fleet) and "CRL Number: \n                1" in crl_text(fleet)
    _rc, output = fleet.playbook(playbook=REVOKE)  # nothing to revoke and the CRL is fresh: no change
    assert recap(output)["dev1"]["changed"] == 0, output
    assert "CRL Number: \n                1" in crl_text(fleet)

    server = servers(fleet, "dev1")
    ok, detail = s_client(fleet, server.port, "127.0.0.111")
    assert ok, detail
    assert python_client(fleet, server.port) is None

    serial = serial_of(host_file(fleet, "dev1", "cert.pem"))
    _rc, output = fleet.playbook("-e", "revoke_hosts=dev1", "-e", "revoke_reason=keyCompromise", playbook=REVOKE)
    assert "dev1 still in the inventory: the next provision issues a new certificate" in output, output
    text = crl_text(fleet)
    assert f"Serial Number: {serial}" in text and "Key Compromise" in text and "CRL Number: \n                2" in text
    ok, detail = s_client(fleet, server.port, "127.0.0.111")
    assert not ok and "certificate revoked" in detail, detail
    assert "certificate revoked" in python_client(fleet, server.port)
    other = servers(fleet, "dev2")  # the rest of the fleet is unaffected
    assert s_client(fleet, other.port, "127.0.0.112")[0]

    _rc, output = fleet.playbook("-e", "revoke_hosts=dev1", "-e", "revoke_reason=keyCompromise", playbook=REVOKE)
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output

    # The next provision re-issues dev1 (renewal reason "revoked"); the new certificate passes the CRL check.
    _rc, output = provision(fleet)
    assert f"dev1: new cert, fullchain, key (revoked: serial {serial})" in output, output
    assert serial_of(host_file(fleet, "dev1", "cert.pem")) != serial
    renewed = servers(fleet, "dev1")
    ok, detail = s_client(fleet, renewed.port, "127.0.0.111")
    assert ok, detail


def test_decommissioned_host_is_revoked_by_name_and_serials_by_number(fleet):
    provision(fleet)
    dev3_serial = serial_of(host_file(fleet, "dev3", "cert.pem"))
    dev4_serial = serial_of(host_file(fleet, "dev4", "cert.pem"))
    del fleet.devices["dev3"]
    fleet.write()
    _rc, output = fleet.playbook("-e", "revoke_hosts=dev3", "-e", "revoke_reason=cessationOfOperation", playbook=REVOKE)
    assert "still in the inventory" not in output
    text = crl_text(fleet)
    assert f"Serial Number: {dev3_serial}" in text and "Cessation Of Operation" in text
    index = open(pki(fleet, "index.txt"), encoding="utf-8").read()
    assert re.search(rf"^R\t\d{{12}}Z\t\d{{12}}Z,cessationOfOperation\t{dev3_serial}\tunknown\t/CN=dev3$", index, re.M), index

    colons = ":".join(dev4_serial[i:i + 2] for i in range(0, len(dev4_serial), 2))
    fleet.playbook("-e", f"revoke_serials={colons}", playbook=REVOKE)
    text = crl_text(fleet)
    assert f"Serial Number: {dev4_serial}" in text and text.count("Serial Number:") == 2
    assert text.count("X509v3 CRL Reason Code") == 1  # unspecified carries no reason code (RFC 5280)

    rc, output = fleet.playbook("-e", "revoke_hosts=dev9", playbook=REVOKE, check=False)
    assert rc != 0 and "host dev9: no certificate with subject /CN=dev9" in output, output


def test_check_mode_writes_nothing_and_diff_shows_the_index_lines(fleet):
    provision(fleet)
    fleet.playbook(playbook=REVOKE)
    before = snapshot(fleet.pki_dir)
    serial = serial_of(host_file(fleet, "dev2", "cert.pem"))
    _rc, output = fleet.playbook("--check", "--diff", "-e", "revoke_hosts=dev2", "-e", "revoke_reason=superseded",
                                 playbook=REVOKE)
    assert re.search(rf"^-V\t\d{{12}}Z\t\t{serial}\tunknown\t/CN=dev2$", output, re.M), output
    assert re.search(rf"^\+R\t\d{{12}}Z\t\d{{12}}Z,superseded\t{serial}\tunknown\t/CN=dev2$", output, re.M), output
    assert recap(output)["dev1"]["changed"] == 1
    assert snapshot(fleet.pki_dir) == before


def test_crl_is_delivered_to_hosts_that_check_it(fleet):
    for host in ("dev1", "dev2"):
        os.makedirs(os.path.join(fleet.state, "devices", host))  # the service's directory exists on the device
        fleet.host_vars[host]["fleet_pki_crl_dest"] = os.path.join(fleet.state, "devices", host, "fleet-crl.pem")
    fleet.write()
    provision(fleet)  # provision.yml publishes the first CRL and delivers it to both
    revoked_copy = os.path.join(fleet.state, "devices", "dev1", "fleet-crl.pem")
    with open(revoked_copy, "rb") as handle, open(pki(fleet, "crl.pem"), "rb") as published:
        first_crl = published.read()
        assert handle.read() == first_crl
    _rc, output = fleet.playbook("-e", "revoke_hosts=dev1", playbook=REVOKE)
    delivered = os.path.join(fleet.state, "devices", "dev2", "fleet-crl.pem")
    with open(delivered, "rb") as handle, open(pki(fleet, "crl.pem"), "rb") as published:
        assert handle.read() == published.read() != first_crl
    assert stat.S_IMODE(os.stat(delivered).st_mode) == 0o644
    with open(revoked_copy, "rb") as handle:
        assert handle.read() == first_crl  # the host being revoked is left out
    assert recap(output)["dev2"]["changed"] == 1 and recap(output)["dev1"]["changed"] == 1  # dev1: the revoking task
    _rc, output = fleet.playbook("-e", "revoke_hosts=dev1", playbook=REVOKE)
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output
    # Without hosts to revoke, every host with fleet_pki_crl_dest gets the current CRL, dev1 too (still in the inventory).
    _rc, output = fleet.playbook(playbook=REVOKE)
    assert recap(output)["dev1"]["changed"] == 1 and recap(output)["dev2"]["changed"] == 0, output
    assert os.path.exists(os.path.join(fleet.state, "devices", "dev1", "fleet-crl.pem"))


def test_wrong_passphrase_is_refused_and_no_passphrase_in_verbose_output(fleet):
    fleet.group_vars["fleet_pki_ca_passphrase"] = "right-canary-6021"
    fleet.write()
    provision(fleet, "--limit", "dev1:dev2")
    before = snapshot(fleet.pki_dir)
    fleet.group_vars["fleet_pki_ca_passphrase"] = "wrong-canary-6022"
    fleet.write()
    rc, output = fleet.playbook("-vvv", "-e", "revoke_hosts=dev1", playbook=REVOKE, check=False)
    assert rc != 0 and "the CA passphrase is wrong" in output, output
    assert "canary" not in output
    assert snapshot(fleet.pki_dir) == before

    fleet.group_vars["fleet_pki_ca_passphrase"] = "right-canary-6021"
    fleet.write()
    _rc, output = fleet.playbook("-vvv", "-e", "revoke_hosts=dev1", playbook=REVOKE)
    assert "canary" not in output and "PRIVATE KEY" not in output
    assert f"Serial Number: {serial_of(host_file(fleet, 'dev1', 'cert.pem'))}" in crl_text(fleet)
