# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An appliance with an HTTP(S) management API, for testing the fleet.pki device role's upload hook.

Python 3 standard library only (plus the openssl CLI, once, to make the factory certificate when none is given),
so it runs on the loopback of the control node and inside a lab device alike.

- The management API (``--api-port``, HTTPS with the factory certificate unless ``--api-plain``) takes basic auth.
  ``POST``/``PUT`` on ``--path`` (default ``/api/v1/tls``) uploads a key, a certificate and an optional chain, as JSON
  (``{"key": PEM, "certificate": PEM, "chain": PEM}``) or as multipart/form-data with the same field names (see
  ``--fields``). The key must match the certificate (checked with ``ssl.SSLContext.load_cert_chain``) or the upload
  is refused with 400 and nothing changes. ``GET`` on the path returns the served certificate's SHA-256 fingerprint.
  Wrong credentials get 401, malformed bodies 400.
- The service port (``--service-port``) serves TLS (and a one-line HTTP page) with the last accepted upload, or with
  the factory certificate before any; a new upload is picked up by the next connection.
- State in ``--state DIR``: ``factory.crt``/``factory.key``, ``current.crt`` (certificate + chain)/``current.key``,
  ``counters.json`` (``api_requests``: every POST/PUT, accepted or not; ``uploads``: accepted ones; ``rejected``;
  ``last_method`` and ``last_content_type`` of the last POST/PUT)
  and ``ready.json`` (the bound ports and the pid, written when both servers listen; port 0 picks a free port).

The password comes from ``--password-file`` or the environment variable DEVICE_SIMULATOR_PASSWORD, never from the
command line. Keys are never logged.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.parser
import email.policy
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading

MAX_BODY = 1024 * 1024
FIELDS = ("key", "certificate", "chain")


def atomic_write(path, data, mode=0o600):
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data if isinstance(data, bytes) else data.encode())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def first_certificate_der(pem_text):
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = pem_text.find(begin)
    stop = pem_text.find(end, start)
    if start < 0 or stop < 0:
        raise ValueError("no PEM certificate found")
    return ssl.PEM_cert_to_DER_cert(pem_text[start:stop + len(end)] + "\n")


def fingerprint(pem_text):
    digest = hashlib.sha256(first_certificate_der(pem_text)).hexdigest().upper()
    return ":".join(digest[index:index + 2] for index in range(0, len(digest), 2))


def make_factory_certificate(state, address, name):
    """A self-signed certificate as a vendor ships it (one-off, with the openssl CLI)."""
    key, cert = os.path.join(state, "factory.key"), os.path.join(state, "factory.crt")
    if os.path.exists(key) and os.path.exists(cert):
        return
    try:
        ipaddress.ip_address(address)
        san = f"IP:{address}"
    except ValueError:
        san = f"DNS:{address}"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-keyout", key, "-out", cert, "-days", "3650", "-subj", f"/O=Example Appliances/CN={name}",
               "-addext", f"subjectAltName={san}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"device_simulator: cannot make the factory certificate with openssl: {result.stderr.strip()}")
    os.chmod(key, 0o600)


class Device:
    """The appliance's state: which certificate it serves, and what its API was asked."""

    def __init__(self, state, fields):
        self.state = state
        self.fields = fields
        self.lock = threading.Lock()
        self.counters = {"api_requests": 0, "uploads": 0, "rejected": 0}
        self._context = None
        self._context_for = None
        path = os.path.join(state, "counters.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                self.counters.update(json.load(handle))

    def paths(self):
        current = os.path.join(self.state, "current.crt"), os.path.join(self.state, "current.key")
        if os.path.exists(current[0]) and os.path.exists(current[1]):
            return current + ("uploaded",)
        return os.path.join(self.state, "factory.crt"), os.path.join(self.state, "factory.key"), "factory"

    def served(self):
        cert, _key, source = self.paths()
        with open(cert, encoding="utf-8") as handle:
            return {"fingerprint_sha256": fingerprint(handle.read()), "source": source}

    def service_context(self):
        """The TLS context of the service port, rebuilt when the files changed (so the next connection sees an upload)."""
        with self.lock:
            cert, key, _source = self.paths()
            stamp = (cert, os.stat(cert).st_mtime_ns, os.stat(key).st_mtime_ns)
            if stamp != self._context_for:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(cert, key)
                self._context, self._context_for = context, stamp
            return self._context

    def count(self, *names, **facts):
        with self.lock:
            for name in names:
                self.counters[name] += 1
            self.counters.update(facts)
            atomic_write(os.path.join(self.state, "counters.json"), json.dumps(self.counters), 0o644)

    def install(self, values):
        """Validate and store an upload; return the new fingerprint or raise ValueError with the reason."""
        key, certificate, chain = values["key"], values["certificate"], values.get("chain") or ""
        try:
            first_certificate_der(certificate)
        except ValueError as exc:
            raise ValueError(f"field {self.fields['certificate']}: not a PEM certificate ({exc})") from None
        full = certificate.rstrip("\n") + "\n"
        if chain.strip() and chain.strip() not in certificate:
            full += chain.rstrip("\n") + "\n"
        with tempfile.TemporaryDirectory(dir=self.state, prefix=".upload-") as scratch:
            cert_path, key_path = os.path.join(scratch, "cert.pem"), os.path.join(scratch, "key.pem")
            atomic_write(cert_path, full, 0o644)
            atomic_write(key_path, key.rstrip("\n") + "\n", 0o600)
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
            except ssl.SSLError as exc:
                raise ValueError(f"the key does not match the certificate or cannot be loaded: {exc.reason or exc}") from None
            with self.lock:  # key first, then the certificate: paths() needs both, the context is rebuilt after
                os.replace(key_path, os.path.join(self.state, "current.key"))
                os.replace(cert_path, os.path.join(self.state, "current.crt"))
        return fingerprint(full)


class ApiHandler(http.server.BaseHTTPRequestHandler):
    server_version = "ExampleAppliance/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write(f"device_simulator api: {self.address_string()} {format % args}\n")

    @property
    def device(self):
        return self.server.device

    def reply(self, status, document, extra_headers=()):
        body = (json.dumps(document) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        header = self.headers.get("Authorization", "")
        scheme, _sep, encoded = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if hmac.compare_digest(user.encode(), self.server.user.encode()) and \
                    hmac.compare_digest(password.encode(), self.server.password.encode()):
                return True
        self.reply(401, {"error": "authentication required"}, [("WWW-Authenticate", 'Basic realm="appliance"')])
        return False

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.split("?", 1)[0] != self.server.api_path:
            self.reply(404, {"error": f"no such resource {self.path}"})
            return
        if self.authorized():
            self.reply(200, dict(self.device.served(), **self.device.counters))

    def do_POST(self):  # noqa: N802
        self.upload()

    def do_PUT(self):  # noqa: N802
        self.upload()

    def upload(self):
        self.device.count("api_requests", last_method=self.command,
                          last_content_type=self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower())
        self.close_connection = True  # one upload per connection
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.refuse(411, "Content-Length required")
            return
        if length > MAX_BODY:
            self.refuse(413, f"body over {MAX_BODY} bytes")
            return
        body = self.rfile.read(length)  # read before any refusal, so that the client gets to read the answer
        if self.path.split("?", 1)[0] != self.server.api_path:
            self.refuse(404, f"no such resource {self.path}")
            return
        if not self.authorized():
            self.device.count("rejected")
            return
        status, document = self.accept(body)
        if status != 200:
            self.device.count("rejected")
        self.reply(status, document)

    def refuse(self, status, message):
        self.device.count("rejected")
        self.reply(status, {"error": message})

    def accept(self, body):
        content_type = self.headers.get("Content-Type", "")
        try:
            if content_type.split(";", 1)[0].strip().lower() == "application/json":
                values = parse_json(body)
            elif content_type.lower().startswith("multipart/form-data"):
                values = parse_multipart(content_type, body)
            else:
                return 415, {"error": f"unsupported Content-Type {content_type!r}: use application/json or multipart/form-data"}
        except ValueError as exc:
            return 400, {"error": str(exc)}
        wanted = {role: values.get(name) for role, name in self.device.fields.items()}
        for role in ("key", "certificate"):
            if not isinstance(wanted[role], str) or not wanted[role].strip():
                return 400, {"error": f"field {self.device.fields[role]!r} is missing or empty"}
        if wanted["chain"] is not None and not isinstance(wanted["chain"], str):
            return 400, {"error": f"field {self.device.fields['chain']!r} must be a string"}
        try:
            new = self.device.install(wanted)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        self.device.count("uploads")
        return 200, {"result": "installed", "fingerprint_sha256": new}


def parse_json(body):
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError("malformed JSON: expected an object")
    return document


def parse_multipart(content_type, body):
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    if not message.is_multipart():
        raise ValueError("malformed multipart body")
    values = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name is None or payload is None:
            raise ValueError("malformed multipart body: a part without a name")
        try:
            values[str(name)] = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"multipart field {name!r} is not UTF-8 text") from None
    return values


class ApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None  # the factory certificate's context, for an HTTPS API

    def finish_request(self, request, client_address):
        """The TLS handshake happens in the request's thread, so a client that refuses the certificate blocks nobody."""
        if self.tls is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        try:
            secured = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with secured:
            self.RequestHandlerClass(secured, client_address, self)


class ServiceServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ServiceHandler(socketserver.BaseRequestHandler):
    """The device's TLS service: whatever certificate is current at connection time, and a one-line page."""

    def handle(self):
        self.request.settimeout(10)
        try:
            with self.server.device.service_context().wrap_socket(self.request, server_side=True) as tls:
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                body = f"{self.server.marker}\n".encode()
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        except (OSError, ssl.SSLError):
            return  # a client that only checks the certificate, or one that refused it


def bind(server_class, handler, address, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_class.address_family = family
    return server_class((address, port), handler)


def parse_fields(text):
    fields = dict(zip(FIELDS, FIELDS))
    for item in filter(None, (text or "").split(",")):
        role, _sep, name = item.partition("=")
        if role not in FIELDS or not name:
            raise SystemExit(f"device_simulator: --fields takes {','.join(f'{f}=NAME' for f in FIELDS)}, not {item!r}")
        fields[role] = name
    return fields


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--address", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--name", default="appliance", help="CN of the factory certificate, and the page marker")
    parser.add_argument("--api-port", type=int, default=8443, help="management API port (0: any free port)")
    parser.add_argument("--api-plain", action="store_true", help="serve the API over plain HTTP instead of HTTPS")
    parser.add_argument("--service-port", type=int, default=443, help="TLS service port (0: any free port)")
    parser.add_argument("--path", default="/api/v1/tls", help="API resource of the TLS credentials")
    parser.add_argument("--fields", default="", help="field names, e.g. key=private_key,certificate=cert,chain=ca")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", help="file with the API password (else env DEVICE_SIMULATOR_PASSWORD)")
    parser.add_argument("--state", required=True, help="state directory (created, mode 0700)")
    parser.add_argument("--factory-address", help="SAN of the factory certificate (default: --address)")
    args = parser.parse_args(argv)

    if args.password_file:
        with open(args.password_file, encoding="utf-8") as handle:
            password = handle.read().strip("\r\n")
    else:
        password = os.environ.get("DEVICE_SIMULATOR_PASSWORD", "")
    if not password:
        raise SystemExit("device_simulator: no API password (--password-file or DEVICE_SIMULATOR_PASSWORD)")
    os.makedirs(args.state, mode=0o700, exist_ok=True)
    make_factory_certificate(args.state, args.factory_address or args.address, args.name)
    device = Device(args.state, parse_fields(args.fields))

    api = bind(ApiServer, ApiHandler, args.address, args.api_port)
    api.device, api.user, api.password, api.api_path = device, args.user, password, args.path
    if not args.api_plain:
        factory = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        factory.load_cert_chain(os.path.join(args.state, "factory.crt"), os.path.join(args.state, "factory.key"))
        api.tls = factory
    service = bind(ServiceServer, ServiceHandler, args.address, args.service_port)
    service.device, service.marker = device, f"{args.name}: example appliance service"

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in (api, service)]
    for thread in threads:
        thread.start()
    ready = {"pid": os.getpid(), "address": args.address, "api_port": api.server_address[1],
             "api_scheme": "http" if args.api_plain else "https", "service_port": service.server_address[1]}
    atomic_write(os.path.join(args.state, "ready.json"), json.dumps(ready), 0o644)
    print(json.dumps(ready), flush=True)
    stop.wait()
    for server in (api, service):
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
