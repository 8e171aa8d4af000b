# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo fleet's HTTPS endpoints and the TLS clients that check them.

    python demo/fleet_demo.py serve  --state .demo [--inventory inventory/demo] [--port 8443]
    python demo/fleet_demo.py verify --state .demo [--client ops-laptop]
    python demo/fleet_demo.py stop   --state .demo

Each device serves HTTPS on its own address (its ansible_host) with the key and full chain that
provisioning delivered into <state>/devices/<name>/. `verify` checks every endpoint with openssl
s_client, curl and Python ssl, each trusting only the client's bundle, and runs a negative control:
a client without the fleet CA must fail.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

MARKER = "fleet.pki demo endpoint"


def devices_of(inventory):
    """{name: address} for the 'devices' group, read with ansible-inventory (which sits next to this Python)."""
    tool = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    listing = json.loads(subprocess.run([tool, "-i", inventory, "--list"], check=True, capture_output=True, text=True).stdout)
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    names = listing.get("devices", {}).get("hosts", [])
    return {name: hostvars.get(name, {}).get("ansible_host", name) for name in sorted(names)}


def _handler_for(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            body = f"<html><body><h1>{MARKER}</h1><p>{name}</p></body></html>\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def serve_forever(state, devices, port):
    """Run one HTTPS server per device until SIGTERM."""
    servers = []
    for name, address in devices.items():
        directory = os.path.join(state, "devices", name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(directory, "fullchain.pem"), os.path.join(directory, "key.pem"))
        server_class = http.server.ThreadingHTTPServer
        if ":" in address:
            server_class = type("V6Server", (http.server.ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
        server = server_class((address, port), _handler_for(name))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()


def start(state, inventory, port):
    """Start the endpoints in the background; return once every one accepts connections."""
    stop(state)
    devices = devices_of(inventory)
    log = open(os.path.join(state, "serve.log"), "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, os.path.abspath(__file__), "_serve", "--state", state, "--port", str(port),
         "--devices", json.dumps(devices)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    with open(os.path.join(state, "serve.pid"), "w", encoding="utf-8") as handle:
        handle.write(str(process.pid))
    deadline = time.monotonic() + 15
    for address in devices.values():
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the demo endpoints exited: see {os.path.join(state, 'serve.log')}")
            try:
                socket.create_connection((address, port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"endpoint {address}:{port} did not come up") from None
                time.sleep(0.05)
    return devices


def stop(state):
    """Stop the endpoints this script started (by their recorded PID only)."""
    pid_file = os.path.join(state, "serve.pid")
    try:
        with open(pid_file, encoding="utf-8") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.unlink(pid_file)


def check_openssl(address, port, cafile):
    result = subprocess.run(
        ["openssl", "s_client", "-connect", _join(address, port), "-verify_return_error", "-verify_ip", address,
         "-CAfile", cafile, "-no-CApath", "-no-CAstore", "-brief"],
        input=b"", capture_output=True, timeout=20, check=False)
    return result.returncode == 0, _line_with(result.stderr + result.stdout, ("verify error", "Verification"))


def check_curl(address, port, cafile):
    url = f"https://{_host(address)}:{port}/"
    result = subprocess.run(["curl", "-sS", "--cacert", cafile, "--capath", "/nonexistent", url],
                            capture_output=True, timeout=20, check=False)
    ok = result.returncode == 0 and MARKER.encode() in result.stdout
    return ok, "HTTP 200, page served" if ok else _line_with(result.stderr, ("curl:",)) or f"curl exit {result.returncode}"


def check_python(address, port, cafile):
    context = ssl.create_default_context(cafile=cafile)  # verifies the chain and the IP SAN
    try:
        with socket.create_connection((address, port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=address) as tls:
                return True, f"{tls.version()}, hostname check on {address}"
    except (ssl.SSLError, OSError) as exc:
        return False, str(exc)


CHECKS = (("openssl s_client", check_openssl), ("curl", check_curl), ("python ssl", check_python))


def verify(state, devices, port, cafile):
    """Run every client against every device; return a list of (device, client, ok, detail)."""
    rows = []
    for name, address in devices.items():
        for client, check in CHECKS:
            ok, detail = check(address, port, cafile)
            rows.append((name, client, ok, detail))
    return rows


def negative_control(devices, port):
    """Clients trusting only a foreign CA must refuse every device."""
    with tempfile.TemporaryDirectory() as scratch:
        foreign = os.path.join(scratch, "foreign-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", os.path.join(scratch, "k.pem"), "-out", foreign, "-subj", "/CN=not the fleet CA",
                        "-days", "1"], check=True, capture_output=True)
        return verify(None, devices, port, foreign)


def _join(address, port):
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _host(address):
    return f"[{address}]" if ":" in address else address


def _line_with(data, needles):
    """The first output line that contains one of `needles`, else the last line."""
    lines = [line.strip() for line in (data or b"").decode(errors="replace").splitlines() if line.strip()]
    for line in lines:
        if any(needle in line for needle in needles):
            return line
    return lines[-1] if lines else ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["serve", "verify", "stop", "_serve"])
    parser.add_argument("--state", default=".demo")
    parser.add_argument("--inventory", default="inventory/demo")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--client", default="ops-laptop")
    parser.add_argument("--devices", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    state = os.path.abspath(args.state)

    if args.command == "_serve":
        serve_forever(state, json.loads(args.devices), args.port)
        return 0
    if args.command == "stop":
        stop(state)
        return 0
    if args.command == "serve":
        for name, address in start(state, args.inventory, args.port).items():
            print(f"  {name:<12} https://{_host(address)}:{args.port}/")
        return 0

    devices = devices_of(args.inventory)
    bundle = os.path.join(state, "clients", args.client, "ca-bundle.pem")
    failures = 0
    print(f"Clients trusting only {os.path.relpath(bundle)}:")
    for name, client, ok, detail in verify(state, devices, args.port, bundle):
        failures += not ok
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<12} {client:<17} {detail}")
    print("Negative control, clients trusting a foreign CA only (each must be refused):")
    for name, client, ok, detail in negative_control(devices, args.port):
        failures += ok
        print(f"  {'PASS' if not ok else 'FAIL'}  {name:<12} {client:<17} refused: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
