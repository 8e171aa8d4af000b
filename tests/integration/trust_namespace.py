# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared helpers for the trust_anchor system-store tests that run in a private mount namespace.

The outer side (pytest) starts a loopback HTTPS server and runs the scenario file again with
``unshare --mount --propagation private ... --inner config.json``; the inner side hides the
store's directories behind tmpfs copies, runs the real module through ansible-playbook and
real clients (curl, Python's default ``ssl`` context), and writes what it saw as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid

import throwaway_pki


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
# Variables that would point clients away from the default store.
TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE")

SERVER = r"""
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"fleet-ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

PYTHON_CLIENT = r"""
import ssl, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], context=ssl.create_default_context(), timeout=10) as r:
        print(r.status, r.read().decode().strip())
except Exception as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
"""

# Runs the module once through ansible-playbook and saves the registered result as JSON
# (ansible-core 2.21 ships no json stdout callback).
PLAYBOOK = """
- name: Run fleet.pki.trust_anchor once and save its result
  hosts: all
  gather_facts: false
  tasks:
    - name: Trust anchor
      fleet.pki.trust_anchor:
        certificate: "{{ ta.certificate | default(omit) }}"
        src: "{{ ta.src | default(omit) }}"
        label: "{{ ta.label | default(omit) }}"
        stores: "{{ ta.stores | default(omit) }}"
        state: "{{ ta.state | default(omit) }}"
        bundle_path: "{{ ta.bundle_path | default(omit) }}"
      register: ta_result
      ignore_errors: true

    - name: Save the result
      ansible.builtin.copy:
        content: "{{ ta_result | to_json }}"
        dest: "{{ ta_out }}"
        mode: "0600"
      check_mode: false
      diff: false
"""


def client_env():
    return {k: v for k, v in os.environ.items() if k not in TRUST_ENV}


# --- inside the namespace -------------------------------------------------------------------

def refuse_outside_namespace(outer_namespace):
    """Stop unless this process really is in another mount namespace than pytest."""
    if os.readlink("/proc/self/ns/mnt") == outer_namespace:
        raise SystemExit("not in a private mount namespace; refusing to run")


def mount_point(path, fstype=None):
    """True when path is a mount point in this namespace (of fstype, when given)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path and (fstype is None or " - %s " % fstype in line):
                return True
    return False


def hide_with_copy(path, staging):
    """Mount a tmpfs over path that starts as a copy of what was there."""
    copy = os.path.join(staging, path.strip("/").replace("/", "_"))
    subprocess.run(["cp", "-a", path + "/.", copy], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", path], check=True)
    subprocess.run(["cp", "-a", copy + "/.", path], check=True)


def curl(url):
    proc = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10", url],
                          env=client_env(), capture_output=True, text=True, check=False)
    return dict(rc=proc.returncode, err=proc.stderr.strip())


def python_client(url):
    proc = subprocess.run([sys.executable, "-c", PYTHON_CLIENT, url], env=client_env(), capture_output=True, text=True,
                          check=False)
    return dict(rc=proc.returncode, out=proc.stdout.strip())


def run_trust_anchor(work, collections, target_python, module_args, *flags, inventory="localhost,"):
    """Run the real module through ansible-playbook; return its registered result plus rc."""
    playbook = os.path.join(work, "trust_anchor.yml")
    if not os.path.exists(playbook):
        with open(playbook, "w") as f:
            f.write(PLAYBOOK)
    out = os.path.join(work, "result-%s.json" % uuid.uuid4().hex)
    extra = os.path.join(work, "vars-%s.json" % uuid.uuid4().hex)
    with open(extra, "w") as f:
        json.dump(dict(ta=module_args, ta_out=out), f)
    env = dict(client_env(), ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-c", "local",
           "-e", "ansible_python_interpreter=%s" % target_python, "-e", "@" + extra, playbook] + list(flags)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    try:
        with open(out) as f:
            result = json.load(f)
    except (IOError, ValueError):
        result = dict(failed=True, msg="no result", stdout=proc.stdout[-3000:], stderr=proc.stderr[-3000:])
    result["rc"] = proc.returncode
    return result


# --- outside: fixtures and assertions -------------------------------------------------------

def make_pki(directory, cn_prefix="fleet.pki test CA"):
    """A throwaway CA and a leaf for this test's address (see throwaway_pki.make_pki)."""
    return throwaway_pki.make_pki(directory, "127.0.0.1", cn_prefix)


def start_server(cert, key):
    """The loopback HTTPS server; the caller stops it (only it) by its Popen object."""
    # stderr would only carry the tracebacks of refused handshakes (the negative controls).
    proc = subprocess.Popen([sys.executable, "-c", SERVER, cert, key], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        proc.wait()
        raise RuntimeError("HTTPS server did not start")
    return proc, int(line)


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def collections_farm(directory):
    """A private collections path whose fleet/pki is this checkout."""
    farm = os.path.join(directory, "collections")
    os.makedirs(os.path.join(farm, "ansible_collections", "fleet"))
    os.symlink(REPO, os.path.join(farm, "ansible_collections", "fleet", "pki"))
    return farm


def bare_python(directory):
    """A Python without the cryptography library, as a device would have."""
    venv = os.path.join(directory, "bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    assert subprocess.run([python, "-c", "import cryptography"], capture_output=True, check=False).returncode != 0
    return python


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_in_namespace(scenario_file, config, timeout=600):
    """Run ``scenario_file --inner config.json`` in a private mount namespace; return its observations."""
    config_path = os.path.join(config["work"], "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, os.path.abspath(scenario_file), "--inner", config_path],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    assert proc.returncode == 0, "namespace run failed:\n%s\n%s" % (proc.stdout, proc.stderr)
    with open(config["observations"]) as f:
        return json.load(f)


def ok(result):
    assert result["rc"] == 0 and not result.get("failed"), json.dumps(result, indent=2)
    return result
