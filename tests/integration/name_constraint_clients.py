# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the name-constraint tests share: a back door that signs with the CA key past every check of ours, and
the clients (OpenSSL, headless Chromium) that must then reject the certificate on their own.

The back door uses `cryptography` only, no fleet.pki code, so what the clients reject is what they were given.
Chromium's own error for a name-constraint violation is the generic ``net::ERR_CERT_INVALID``; its net log
names the reason (``Not permitted by name constraints``), so the tests assert on both.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import chromium

CHROMIUM_REFUSAL = "net::ERR_CERT_INVALID"
CHROMIUM_REASON = "Not permitted by name constraints"
OPENSSL_REASON = "permitted subtree violation"
PROBE_PAGE = "name-constraint probe"

# A one-file HTTPS server: python3 -c SERVER <address> <port> <cert> <key>.
SERVER = """
import http.server, socket, ssl, sys
address, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><body><h1>%s</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((address, port), Page)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
""" % PROBE_PAGE


def back_door_leaf(ca_cert_path, ca_key_path, sans, common_name="dev1", passphrase=None):
    """(certificate PEM, key PEM) of a server leaf signed with the CA key directly. sans: [("IP"|"DNS", value)]."""
    with open(ca_cert_path, "rb") as handle:
        ca_certificate = x509.load_pem_x509_certificate(handle.read())
    with open(ca_key_path, "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), passphrase.encode() if passphrase else None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.IPAddress(ipaddress.ip_address(value)) if kind == "IP" else x509.DNSName(value) for kind, value in sans]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def write_pair(directory, name, pair):
    """Write (certificate, key) as <name>.crt and <name>.key (0600); return the two paths."""
    os.makedirs(directory, exist_ok=True)
    paths = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    for path, text in zip(paths, pair):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(text)
    return paths


def openssl_verify(ca_path, leaf_path, *checks):
    """`openssl verify` of a leaf file against the CA only; return (ok, output)."""
    result = subprocess.run(["openssl", "verify", "-no-CApath", "-no-CAstore", "-CAfile", ca_path, *checks, leaf_path],
                            capture_output=True, text=True, check=False, timeout=30)
    return result.returncode == 0, result.stdout + result.stderr


def openssl_connect(address, port, ca_path, *checks, servername=None):
    """`openssl s_client -verify_return_error` with the CA only; return (ok, output). checks: -verify_ip/-verify_hostname."""
    connect = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    sni = ["-servername", servername] if servername else []
    result = subprocess.run(["openssl", "s_client", "-connect", connect, *sni, "-verify_return_error", *checks,
                             "-CAfile", ca_path, "-no-CApath", "-no-CAstore"],
                            input="", capture_output=True, text=True, check=False, timeout=30)
    output = result.stdout + result.stderr
    return result.returncode == 0 and "Verify return code: 0 (ok)" in output, output


def nss_home(home, ca_path):
    """A HOME whose ~/.pki/nssdb (Chromium's store on Linux) trusts the CA for TLS servers, and nothing else."""
    database = os.path.join(home, ".pki", "nssdb")
    os.makedirs(database)
    subprocess.run(["certutil", "-N", "-d", f"sql:{database}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{database}", "-n", "fleet CA", "-t", "C,,", "-i", ca_path],
                   check=True, capture_output=True)
    return home


def chromium_load(url, home, scratch, resolve=None):
    """Load url in headless Chromium with HOME=home; return (ok, dom, error line, verifier errors from the net log).

    resolve: (name, address) to map a DNS name without touching any resolver (--host-resolver-rules).
    """
    profile, net_log = os.path.join(scratch, "profile"), os.path.join(scratch, "net-log.json")
    shutil.rmtree(profile, ignore_errors=True)
    flags = [f"--user-data-dir={profile}", f"--log-net-log={net_log}", "--net-log-capture-mode=Default"]
    if resolve:
        flags.append(f"--host-resolver-rules=MAP {resolve[0]} {resolve[1]}")
    out, err, _seconds, timed_out = chromium._run([*flags, "--dump-dom", url], home, chromium.DEFAULT_TIMEOUT)  # pylint: disable=protected-access
    if timed_out:
        return False, out, f"timeout: chromium did not finish within {chromium.DEFAULT_TIMEOUT}s", []
    problem = chromium.error_line(err)
    return bool(out.strip()) and problem is None, out, problem, verifier_errors(net_log)


def verifier_errors(net_log):
    """The `errors` text of every path Chromium's certificate verifier built, from its net log."""
    try:
        with open(net_log, encoding="utf-8") as handle:
            log = json.load(handle)
    except (OSError, ValueError):
        return []
    types = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    return [event["params"]["errors"] for event in log.get("events", ())
            if types.get(event["type"]) == "CERT_VERIFY_PROC_PATH_BUILT" and event.get("params", {}).get("errors")]


class Server:
    """The one-file HTTPS server, started on loopback by the test and stopped by its own PID."""

    def __init__(self, address, port, cert_path, key_path):
        self.address, self.port = address, port
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-c", SERVER, address, str(port), cert_path, key_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"server on {address}:{port} exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection((address, port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"server on {address}:{port} did not come up") from None
                time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process.stderr.close()
