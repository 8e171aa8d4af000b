# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import fingerprint_sha256, to_pem
from ansible_collections.fleet.pki.plugins.module_utils._crypto import serialization
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key
from ansible_collections.fleet.pki.plugins.module_utils._served_certificate import compare, fetch_served


def serve_tls(tmp_path, authority, sans):
    """A one-thread TLS server on 127.0.0.1 that completes handshakes; returns (port, certificate, stop)."""
    key = generate_private_key("ec-p256")
    cert = issue(authority, authority.private_key(), key.public_key(), LeafRequest("dev", sans, "server", 30))
    (tmp_path / "chain.pem").write_text(to_pem(cert) + authority.pem)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "chain.pem"), str(tmp_path / "key.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def close():
        stop.set()
        thread.join(5)
        listener.close()

    return listener.getsockname()[1], cert, close


@pytest.fixture
def server(tmp_path, authority):
    servers = []

    def start(sans=(("IP", "127.0.0.1"),), ca=None):
        port, cert, close = serve_tls(tmp_path, ca or authority, sans)
        servers.append(close)
        return port, cert

    yield start
    for close in servers:
        close()


def test_the_served_certificate_verifies_and_matches(server, authority):
    port, cert = server()
    served = fetch_served("127.0.0.1", port, authority.pem)
    assert compare(served, fingerprint_sha256(cert))
    assert not compare(served, "00" * 32)


def test_a_certificate_for_another_address_is_refused(server, authority):
    port, _cert = server(sans=(("IP", "10.0.0.9"),))
    with pytest.raises(FleetPkiError, match="does not verify for 127.0.0.1: IP address mismatch"):
        fetch_served("127.0.0.1", port, authority.pem)


def test_a_certificate_from_another_ca_is_refused(server, tmp_path, authority):
    other, _changed, _notes = ensure_authority(str(tmp_path / "other"), AuthoritySettings(common_name="Other CA"))
    port, _cert = server(ca=other)
    with pytest.raises(FleetPkiError, match="does not verify for 127.0.0.1: self-signed certificate in certificate chain"):
        fetch_served("127.0.0.1", port, authority.pem)


def test_nothing_listening_is_a_clear_error(authority):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(FleetPkiError, match=f"cannot fetch the certificate served on 127.0.0.1:{port}"):
        fetch_served("127.0.0.1", port, authority.pem, timeout=2)
