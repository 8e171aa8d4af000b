# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet.pki.trust_anchor, store system, for real: through ansible, on this Debian machine.

The whole scenario runs inside a private mount namespace (``unshare --mount --propagation
private``) where tmpfs copies hide the real ``/usr/local/share/ca-certificates`` and
``/etc/ssl/certs``, so the machine's own trust store is never touched. Clients are the real
curl and Python's default ``ssl`` context, talking to a loopback HTTPS server whose leaf is
signed by a throwaway CA.

This file is also the program that runs inside the namespace (``--inner``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

import throwaway_pki


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ANCHOR_DIR = "/usr/local/share/ca-certificates"
CERTS_DIR = "/etc/ssl/certs"
HOOKS_DIR = "/etc/ca-certificates/update.d"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
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


def client_env():
    return {k: v for k, v in os.environ.items() if k not in TRUST_ENV}


# --- inside the namespace -------------------------------------------------------------------

def _mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path and " - tmpfs " in line for line in f)


def _hide_with_copy(path, staging):
    """Mount a tmpfs over path that starts as a copy of what was there."""
    copy = os.path.join(staging, path.strip("/").replace("/", "_"))
    subprocess.run(["cp", "-a", path + "/.", copy], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", path], check=True)
    subprocess.run(["cp", "-a", copy + "/.", path], check=True)


def _curl(url):
    proc = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10", url],
                          env=client_env(), capture_output=True, text=True, check=False)
    return dict(rc=proc.returncode, err=proc.stderr.strip())


def _python(url):
    proc = subprocess.run([sys.executable, "-c", PYTHON_CLIENT, url], env=client_env(), capture_output=True, text=True,
                          check=False)
    return dict(rc=proc.returncode, out=proc.stdout.strip())


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


def _ansible(config, module_args, *flags):
    return run_trust_anchor(config["work"], config["collections"], config["target_python"], module_args, *flags)


def _bundle_has(pem):
    with open(SYSTEM_BUNDLE) as f:
        return pem in f.read()


def _anchor_file(label):
    try:
        with open(os.path.join(ANCHOR_DIR, label + ".crt")) as f:
            return f.read()
    except FileNotFoundError:
        return None


def inner(config_path):
    """The scenario, run by ``unshare --mount --propagation private``; writes what it saw."""
    with open(config_path) as f:
        config = json.load(f)
    seen = {}

    def save():
        with open(config["observations"], "w") as f:
            json.dump(seen, f, indent=2)

    # Refuse to touch anything unless we really are in another mount namespace.
    if os.readlink("/proc/self/ns/mnt") == config["outer_namespace"]:
        raise SystemExit("not in a private mount namespace; refusing to run")
    staging = tempfile.mkdtemp(prefix="ta-ns-")
    _hide_with_copy(ANCHOR_DIR, staging)
    _hide_with_copy(CERTS_DIR, staging)
    # No hooks: Debian's Java hook would process dpkg triggers on the real machine.
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", HOOKS_DIR], check=True)
    for path in (ANCHOR_DIR, CERTS_DIR, HOOKS_DIR):
        if not _mounted(path):
            raise SystemExit("%s is not a private tmpfs; refusing to run" % path)

    try:
        _scenario(config, seen)
    finally:
        save()


def _scenario(config, seen):
    url = config["url"]
    present = dict(src=config["ca"], stores=["system"])
    absent = dict(present, state="absent")
    seen["curl_before"] = _curl(url)
    seen["python_before"] = _python(url)
    seen["check_present"] = _ansible(config, present, "--check", "--diff")
    seen["file_after_check"] = _anchor_file(config["label"])
    seen["present"] = _ansible(config, present, "--diff")
    seen["file_after_present"] = _anchor_file(config["label"])
    seen["openssl_capath"] = subprocess.run(
        ["openssl", "verify", "-CApath", CERTS_DIR, config["leaf"]], capture_output=True, text=True, check=False).returncode
    seen["curl_after"] = _curl(url)
    seen["python_after"] = _python(url)
    seen["present_again"] = _ansible(config, present)
    # The file is in place but the bundle lost it (someone ran update-ca-certificates with a
    # broken file list, say): the module must notice and refresh.
    with open(SYSTEM_BUNDLE) as f:
        full = f.read()
    with open(config["ca"]) as f:
        ca_pem = f.read()
    with open(SYSTEM_BUNDLE, "w") as f:
        f.write(full.replace(ca_pem, ""))
    seen["bundle_has_ca_damaged"] = _bundle_has(ca_pem)
    seen["present_repair"] = _ansible(config, present)
    seen["bundle_has_ca_repaired"] = _bundle_has(ca_pem)
    seen["curl_repaired"] = _curl(url)
    seen["check_absent"] = _ansible(config, absent, "--check")
    seen["file_after_check_absent"] = _anchor_file(config["label"])
    seen["absent"] = _ansible(config, absent, "--diff")
    seen["file_after_absent"] = _anchor_file(config["label"])
    seen["curl_after_absent"] = _curl(url)
    seen["python_after_absent"] = _python(url)
    seen["absent_again"] = _ansible(config, absent)
    seen["not_a_ca"] = _ansible(config, dict(src=config["leaf"], stores=["system"]))
    seen["done"] = True


# --- outside: fixtures and assertions -------------------------------------------------------

def _missing_prerequisites():
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux (mount namespaces)"
    for tool in ("unshare", "mount", "curl", "openssl", "update-ca-certificates", "cp"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return "%s not found" % tool
    if not os.path.isdir(ANCHOR_DIR) or not os.path.isdir(HOOKS_DIR):
        return "not a Debian-family machine with ca-certificates"
    if not os.path.exists(os.path.join(BIN, "ansible")):
        return "ansible is not installed next to %s" % sys.executable
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisites() is not None, reason=str(_missing_prerequisites()))


def make_pki(directory):
    """A throwaway CA and a leaf for this test's address (see throwaway_pki.make_pki)."""
    return throwaway_pki.make_pki(directory, "127.0.0.1", "fleet.pki test CA")


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


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("trust_system"))
    pki = make_pki(work)
    real_store = (sorted(os.listdir(ANCHOR_DIR)), _digest(SYSTEM_BUNDLE))
    proc, port = start_server(pki["leaf"], pki["leaf_key"])
    try:
        config = dict(
            url="https://127.0.0.1:%d/" % port, work=work,
            ca=pki["ca"], leaf=pki["leaf"], label=pki["label"],
            collections=collections_farm(work), target_python=bare_python(work),
            observations=os.path.join(work, "seen.json"),
            outer_namespace=os.readlink("/proc/self/ns/mnt"),
        )
        config_path = os.path.join(work, "config.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        proc_ns = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, os.path.abspath(__file__), "--inner", config_path],
            capture_output=True, text=True, timeout=600, check=False,
        )
        assert proc_ns.returncode == 0, "namespace run failed:\n%s\n%s" % (proc_ns.stdout, proc_ns.stderr)
        with open(config["observations"]) as f:
            observations = json.load(f)
    finally:
        stop_server(proc)
    observations["label"] = pki["label"]
    observations["real_store_unchanged"] = real_store == (sorted(os.listdir(ANCHOR_DIR)), _digest(SYSTEM_BUNDLE))
    return observations


def ok(result):
    assert result["rc"] == 0 and not result.get("failed"), json.dumps(result, indent=2)
    return result


def test_before_install_clients_refuse_the_server(seen):
    # Negative control: curl exits 60 (peer certificate cannot be authenticated).
    assert seen["curl_before"]["rc"] == 60, seen["curl_before"]
    assert seen["python_before"]["rc"] == 3
    assert "CERTIFICATE_VERIFY_FAILED" in seen["python_before"]["out"]


def test_check_mode_reports_a_change_and_writes_nothing(seen):
    result = ok(seen["check_present"])
    assert result["changed"] is True
    assert result["stores"]["system"]["changed"] is True
    assert seen["file_after_check"] is None
    assert result["diff"][0]["before"] == "absent\n"


def test_present_installs_the_anchor_file(seen):
    result = ok(seen["present"])
    assert result["changed"] is True
    assert result["label"] == seen["label"]
    assert result["stores"]["system"] == dict(changed=True, path="%s/%s.crt" % (ANCHOR_DIR, seen["label"]))
    assert seen["file_after_present"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert result["diff"][0]["before"] == "absent\n"
    assert result["diff"][0]["after"].startswith("present: %s (sha256 " % seen["label"])


def test_after_install_curl_and_python_trust_the_server(seen):
    assert seen["curl_after"]["rc"] == 0, seen["curl_after"]
    assert seen["python_after"] == dict(rc=0, out="200 fleet-ok")
    assert seen["openssl_capath"] == 0


def test_second_run_changes_nothing(seen):
    assert ok(seen["present_again"])["changed"] is False
    assert seen["present_again"]["stores"]["system"]["changed"] is False


def test_a_bundle_that_lost_the_ca_is_repaired(seen):
    # (curl would still pass here through the hash links in /etc/ssl/certs; look at the bundle.)
    assert seen["bundle_has_ca_damaged"] is False
    assert ok(seen["present_repair"])["changed"] is True
    assert seen["bundle_has_ca_repaired"] is True
    assert seen["curl_repaired"]["rc"] == 0


def test_check_mode_absent_keeps_the_file(seen):
    assert ok(seen["check_absent"])["changed"] is True
    assert seen["file_after_check_absent"] == seen["file_after_present"]


def test_absent_removes_the_ca_and_clients_refuse_again(seen):
    result = ok(seen["absent"])
    assert result["changed"] is True
    assert result["diff"][0]["after"] == "absent\n"
    assert seen["file_after_absent"] is None
    assert seen["curl_after_absent"]["rc"] == 60
    assert seen["python_after_absent"]["rc"] == 3
    assert ok(seen["absent_again"])["changed"] is False


def test_a_leaf_is_refused_naming_the_host(seen):
    result = seen["not_a_ca"]
    assert result.get("failed")
    assert "on host localhost" in result["msg"] and "not a CA certificate" in result["msg"]


def test_the_real_trust_store_was_not_touched(seen):
    assert seen["done"]
    assert seen["real_store_unchanged"]


if __name__ == "__main__" and sys.argv[1:2] == ["--inner"]:
    inner(sys.argv[2])
