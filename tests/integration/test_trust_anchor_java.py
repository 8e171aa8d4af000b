# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet.pki.trust_anchor, store java, for real: the module through ansible-playbook, then a Java client.

A throwaway CA signs a leaf for 127.0.0.32; a Python HTTPS server thread serves a page with a
marker there. The client is ``tests/integration/java/Client.java`` (``HttpsURLConnection``, default
hostname verification), run from source by the real ``java``. Before the install and after the
removal it must fail with ``PKIX path building failed``. Scenarios:

- cacerts: a copy of the JDK's cacerts (JKS, password changeit) given as ``java_keystores``;
- truststore: an application PKCS12 truststore with its own password, both from host variables,
  the password ansible-vault encrypted; a wrong password must fail without showing any password,
  even at ``-vvv``;
- debian: inside a private mount namespace (tmpfs copies over the system store, the Java keystore,
  and dpkg's state), the ``system`` store alone must reach the JVM's default keystore through the
  ``ca-certificates-java`` hook, and an entry of the ``java`` store must survive
  ``update-ca-certificates --fresh``.

The machine's own keystore and trust store are never written; the last test checks that.
This file is also the program that runs inside the namespace (``--inner``).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

import throwaway_pki


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "java", "Client.java")
ARTIFACTS = os.path.join(REPO, "tests", "output", "artifacts")
ADDRESS = "127.0.0.32"
UNTRUSTED = "PKIX path building failed"
JDK_PASSWORD = "changeit"
SYSTEM_CACERTS = "/etc/ssl/certs/java/cacerts"
ANSIBLE_TIMEOUT = 300
JAVA_TIMEOUT = 120

# What the Debian scenario hides behind private copies, and what it needs to find there.
ANCHOR_DIR = "/usr/local/share/ca-certificates"
CERTS_DIR = "/etc/ssl/certs"
JAVA_STATE_DIR = "/var/lib/ca-certificates-java"
DPKG_DIR = "/var/lib/dpkg"
LOG_DIR = "/var/log"
JAVA_HOOK = "/etc/ca-certificates/update.d/jks-keystore"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _missing_prerequisites():
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    for tool in ("java", "keytool"):
        if not shutil.which(tool):
            return "%s is absent (apt-get install default-jdk-headless)" % tool
    if not os.path.exists(os.path.join(BIN, "ansible-playbook")):
        return "ansible-playbook is not installed next to %s" % sys.executable
    try:
        import cryptography  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "the Python library cryptography is missing"
    return None


def _debian_missing_prerequisites():
    if os.geteuid() != 0:
        return "needs root (mount namespaces)"
    for tool in ("unshare", "mount", "update-ca-certificates", "dpkg", "cp"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return "%s not found" % tool
    if not os.path.exists(JAVA_HOOK) or not os.path.isfile(SYSTEM_CACERTS):
        return "ca-certificates-java is not installed"
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisites() is not None, reason=str(_missing_prerequisites()))


def _digest(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


# --- the server -----------------------------------------------------------------------------

def make_pki(directory):
    """A throwaway CA and a leaf for this test's address (see throwaway_pki.make_pki)."""
    return throwaway_pki.make_pki(directory, ADDRESS, "fleet.pki Java test CA")


class _Page(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # refused handshakes are the negative controls, not errors


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(url, marker, pki paths): the HTTPS server thread runs for the whole module."""
    work = str(tmp_path_factory.mktemp("java_pki"))
    pki = make_pki(work)
    marker = "fleet-pki-java-marker-%s" % uuid.uuid4().hex
    handler = type("Page", (_Page,), {"body": ("%s\n" % marker).encode()})
    server = _Server((ADDRESS, 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["leaf"], pki["leaf_key"])
    # Handshakes happen in the handler threads, so a silent client cannot block accept().
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, name="java-https", daemon=True)
    thread.start()
    try:
        yield "https://%s:%d/" % (ADDRESS, server.server_address[1]), marker, pki
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- the Java client and keytool ------------------------------------------------------------

def java_client(url, truststore=None, password=JDK_PASSWORD, storetype=None):
    """Run Client.java; with truststore None the JVM uses its default keystore (cacerts)."""
    cmd = ["java"]
    if truststore is not None:
        cmd += ["-Djavax.net.ssl.trustStore=%s" % truststore, "-Djavax.net.ssl.trustStorePassword=%s" % password]
        if storetype:
            cmd.append("-Djavax.net.ssl.trustStoreType=%s" % storetype)
    cmd += [CLIENT, url]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=JAVA_TIMEOUT,
                          env=dict(os.environ, LC_ALL="C"))
    return dict(rc=proc.returncode, out=(proc.stdout + proc.stderr).strip(), seconds=round(time.monotonic() - started, 2))


def keytool_entries(keystore, password=JDK_PASSWORD):
    """{alias: SHA-256 hex} of every entry, straight from keytool."""
    proc = subprocess.run(["keytool", "-list", "-keystore", keystore, "-storepass", password], capture_output=True,
                          text=True, check=True, timeout=JAVA_TIMEOUT, env=dict(os.environ, LC_ALL="C"))
    result = {}
    alias = None
    for line in proc.stdout.splitlines():
        if ", " in line and line.rstrip().endswith(","):
            alias = line.split(",", 1)[0]
        elif line.startswith("Certificate fingerprint (SHA-256):") and alias is not None:
            result[alias] = line.split(":", 1)[1].strip().replace(":", "").lower()
    return result


def make_truststore(path, password, foreign_pem):
    """An application truststore (PKCS12) holding one unrelated CA."""
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "someone-else", "-file", foreign_pem,
                    "-keystore", path, "-storetype", "PKCS12", "-storepass", password],
                   capture_output=True, text=True, check=True, timeout=JAVA_TIMEOUT)


def jdk_cacerts():
    """A JDK cacerts to copy: Debian's shared one, else the one of the java on PATH; None when there is none."""
    if os.path.isfile(SYSTEM_CACERTS):
        return SYSTEM_CACERTS
    home = os.path.dirname(os.path.dirname(os.path.realpath(shutil.which("java"))))
    candidate = os.path.join(home, "lib", "security", "cacerts")
    return candidate if os.path.isfile(candidate) else None


# --- ansible --------------------------------------------------------------------------------

# Runs the module once and saves the registered result as JSON (2.21 has no json stdout callback).
PLAYBOOK = """
- name: Run fleet.pki.trust_anchor once and save its result
  hosts: all
  gather_facts: false
  tasks:
    - name: Trust anchor
      fleet.pki.trust_anchor:
        src: "{{ ta.src }}"
        stores: "{{ ta.stores | default(['java']) }}"
        state: "{{ ta.state | default(omit) }}"
        java_keystores: "{{ ta.java_keystores | default(omit) }}"
        java_keystore_password: "{{ ta.java_keystore_password | default(omit) }}"
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


def run_trust_anchor(work, module_args, *flags, inventory="localhost,", extra_env=None):
    """Run the real module through ansible-playbook; return its result plus rc, output and seconds."""
    playbook = os.path.join(work, "trust_anchor.yml")
    with open(playbook, "w") as f:
        f.write(PLAYBOOK)
    out = os.path.join(work, "result-%s.json" % uuid.uuid4().hex)
    extra = os.path.join(work, "vars-%s.json" % uuid.uuid4().hex)
    with open(extra, "w") as f:
        json.dump(dict(ta=module_args, ta_out=out, ansible_python_interpreter=sys.executable), f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "JAVA_HOME"}
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               PATH=BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin"))
    env.update(extra_env or {})
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-c", "local", "-e", "@" + extra, playbook, *flags]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=ANSIBLE_TIMEOUT)
    seconds = round(time.monotonic() - started, 2)
    try:
        with open(out) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = dict(failed=True, msg="no result", stdout=proc.stdout[-3000:], stderr=proc.stderr[-3000:])
    result.update(rc=proc.returncode, output=proc.stdout + proc.stderr, seconds=seconds)
    return result


def ok(result):
    shown = {k: v for k, v in result.items() if k != "output"}
    assert result["rc"] == 0 and not result.get("failed"), json.dumps(shown, indent=2)
    return result


def keystores(result):
    return ok(result)["stores"]["java"]["keystores"]


def _save_timings(scenario, timings):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, "java-timings.json")
    try:
        with open(path) as f:
            everything = json.load(f)
    except (OSError, ValueError):
        everything = {}
    everything[scenario] = timings
    with open(path, "w") as f:
        json.dump(everything, f, indent=2)


def _timings(seen):
    return {key: value["seconds"] for key, value in seen.items() if isinstance(value, dict) and "seconds" in value}


# --- scenario 1: a copy of the JDK cacerts, given as java_keystores --------------------------

@pytest.fixture(scope="module")
def real_store():
    """Digests of the machine's own keystore and bundle, before anything ran."""
    return _digest(SYSTEM_CACERTS), _digest(SYSTEM_BUNDLE)


@pytest.fixture(scope="module")
def cacerts_run(site, tmp_path_factory, real_store):
    url, marker, pki = site
    work = str(tmp_path_factory.mktemp("java_cacerts"))
    source = jdk_cacerts()
    copy = os.path.join(work, "cacerts")
    if source is not None:
        shutil.copyfile(source, copy)
    else:
        foreign = make_pki(work)["ca"]
        make_truststore(copy, JDK_PASSWORD, foreign)
    os.chmod(copy, 0o644)
    present = dict(src=pki["ca"], java_keystores=[copy])
    absent = dict(present, state="absent")
    seen = dict(marker=marker, keystore=copy, source=source)

    seen["entries_before"] = keytool_entries(copy)
    seen["before"] = java_client(url, copy)
    bytes_before = _digest(copy)
    seen["check"] = run_trust_anchor(work, present, "--check", "--diff")
    seen["unchanged_by_check"] = _digest(copy) == bytes_before
    stat_before = os.stat(copy)
    seen["present"] = run_trust_anchor(work, present, "--diff")
    stat_after = os.stat(copy)
    seen["owner_mode_kept"] = ((stat_before.st_uid, stat_before.st_gid, stat_before.st_mode)
                               == (stat_after.st_uid, stat_after.st_gid, stat_after.st_mode))
    seen["entries_after"] = keytool_entries(copy)
    seen["after"] = java_client(url, copy)
    seen["present_again"] = run_trust_anchor(work, present)
    seen["absent"] = run_trust_anchor(work, absent, "--diff")
    seen["entries_after_absent"] = keytool_entries(copy)
    seen["after_absent"] = java_client(url, copy)
    seen["absent_again"] = run_trust_anchor(work, absent)
    _save_timings("cacerts", _timings(seen))
    return seen


def test_cacerts_before_install_java_refuses_the_device(cacerts_run):
    before = cacerts_run["before"]
    assert before["rc"] == 3 and UNTRUSTED in before["out"], before


def test_cacerts_check_mode_reports_a_change_and_writes_nothing(cacerts_run):
    result = ok(cacerts_run["check"])
    assert result["changed"] is True
    assert keystores(result) == [dict(changed=True, path=cacerts_run["keystore"])]
    assert cacerts_run["unchanged_by_check"]
    assert result["diff"][0]["before"] == "absent\n"
    assert result["diff"][0]["before_header"] == "java: %s" % cacerts_run["keystore"]


def test_cacerts_present_imports_the_ca_under_its_lower_case_label(cacerts_run):
    result = ok(cacerts_run["present"])
    assert result["changed"] is True
    assert result["stores"]["java"] == dict(changed=True, keystores=[dict(changed=True, path=cacerts_run["keystore"])])
    assert result["diff"][0]["after"] == "present: %s (sha256 %s)\n" % (result["label"], result["sha256"])
    expected = dict(cacerts_run["entries_before"], **{result["label"].lower(): result["sha256"]})
    assert cacerts_run["entries_after"] == expected
    assert cacerts_run["owner_mode_kept"]


def test_cacerts_after_install_java_gets_the_page(cacerts_run):
    after = cacerts_run["after"]
    assert after["rc"] == 0, after
    assert "status=200" in after["out"] and cacerts_run["marker"] in after["out"]


def test_cacerts_second_run_changes_nothing(cacerts_run):
    result = ok(cacerts_run["present_again"])
    assert result["changed"] is False
    assert keystores(result) == [dict(changed=False, path=cacerts_run["keystore"])]


def test_cacerts_absent_removes_only_the_ca_and_java_refuses_again(cacerts_run):
    result = ok(cacerts_run["absent"])
    assert result["changed"] is True
    assert result["diff"][0]["after"] == "absent\n"
    assert cacerts_run["entries_after_absent"] == cacerts_run["entries_before"]
    after = cacerts_run["after_absent"]
    assert after["rc"] == 3 and UNTRUSTED in after["out"], after
    assert ok(cacerts_run["absent_again"])["changed"] is False


# --- scenario 2: an application truststore, keystores and vaulted password from host variables --

INVENTORY = """all:
  hosts:
    localhost:
      fleet_pki_java_keystores:
        - %(truststore)s
      fleet_pki_java_keystore_password: !vault |
%(vaulted)s
"""


def vault_inventory(work, truststore, password):
    """An inventory whose host variables give the truststore and its password (ansible-vault encrypted)."""
    vault_file = os.path.join(work, "vault-pass")
    with open(vault_file, "w") as f:
        f.write("vault-%s\n" % uuid.uuid4().hex)
    os.chmod(vault_file, 0o600)
    proc = subprocess.run([os.path.join(BIN, "ansible-vault"), "encrypt_string", "--vault-password-file", vault_file,
                           "--stdin-name", "pw"], input=password, capture_output=True, text=True, check=True,
                          timeout=ANSIBLE_TIMEOUT, cwd=REPO, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip() and not line.startswith("pw:")]
    vaulted = "\n".join("        " + line for line in lines if not line.startswith("!vault"))
    inventory = os.path.join(work, "inventory.yml")
    with open(inventory, "w") as f:
        f.write(INVENTORY % dict(truststore=truststore, vaulted=vaulted))
    return inventory, vault_file


@pytest.fixture(scope="module")
def truststore_run(site, tmp_path_factory):
    url, marker, pki = site
    work = str(tmp_path_factory.mktemp("java_truststore"))
    password = "Tr-%s" % uuid.uuid4().hex[:16]
    wrong = "Wr-%s" % uuid.uuid4().hex[:16]
    truststore = os.path.join(work, "app-truststore.p12")
    make_truststore(truststore, password, make_pki(work)["ca"])
    inventory, vault_file = vault_inventory(work, truststore, password)
    seen = dict(marker=marker, keystore=truststore, password=password, wrong_password=wrong)

    seen["before"] = java_client(url, truststore, password, "PKCS12")
    seen["present"] = run_trust_anchor(work, dict(src=pki["ca"]), "-vvv", "--vault-password-file", vault_file,
                                       inventory=inventory)
    seen["after"] = java_client(url, truststore, password, "PKCS12")
    content = _digest(truststore)
    seen["wrong"] = run_trust_anchor(work, dict(src=pki["ca"], state="absent", java_keystore_password=wrong), "-vvv",
                                     "--vault-password-file", vault_file, inventory=inventory)
    seen["unchanged_by_wrong"] = _digest(truststore) == content
    seen["missing"] = run_trust_anchor(work, dict(src=pki["ca"], java_keystores=[os.path.join(work, "no-such.p12")]),
                                       "--vault-password-file", vault_file, inventory=inventory)
    seen["absent"] = run_trust_anchor(work, dict(src=pki["ca"], state="absent"), "--vault-password-file", vault_file,
                                      inventory=inventory)
    seen["after_absent"] = java_client(url, truststore, password, "PKCS12")
    _save_timings("truststore", _timings(seen))
    return seen


def test_truststore_from_host_variables_with_a_vaulted_password(truststore_run):
    assert truststore_run["before"]["rc"] == 3 and UNTRUSTED in truststore_run["before"]["out"]
    result = ok(truststore_run["present"])
    assert keystores(result) == [dict(changed=True, path=truststore_run["keystore"])]
    after = truststore_run["after"]
    assert after["rc"] == 0 and truststore_run["marker"] in after["out"], after


def test_the_password_never_shows_even_at_vvv(truststore_run):
    for key in ("present", "wrong"):
        run = truststore_run[key]
        text = run["output"] + json.dumps({k: v for k, v in run.items() if k != "output"})
        assert truststore_run["password"] not in text, key
        assert truststore_run["wrong_password"] not in text, key


def test_a_wrong_password_fails_naming_the_keystore_and_writes_nothing(truststore_run):
    result = truststore_run["wrong"]
    assert result.get("failed"), result["msg"]
    assert "the password of keystore %s is wrong" % truststore_run["keystore"] in result["msg"]
    assert truststore_run["unchanged_by_wrong"]


def test_a_missing_keystore_fails_naming_it(truststore_run):
    result = truststore_run["missing"]
    assert result.get("failed")
    assert "no-such.p12 does not exist" in result["msg"]


def test_truststore_absent_and_java_refuses_again(truststore_run):
    assert ok(truststore_run["absent"])["changed"] is True
    after = truststore_run["after_absent"]
    assert after["rc"] == 3 and UNTRUSTED in after["out"], after


# --- scenario 3: Debian, the system store reaches the JVM through ca-certificates-java --------

def _mounted_tmpfs(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path and " - tmpfs " in line for line in f)


def _hide_with_copy(path, staging):
    """Mount a tmpfs over path that starts as a copy of what was there."""
    copy = os.path.join(staging, path.strip("/").replace("/", "_"))
    os.makedirs(copy, exist_ok=True)
    subprocess.run(["cp", "-a", path + "/.", copy], check=True, timeout=120)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", path], check=True, timeout=60)
    subprocess.run(["cp", "-a", copy + "/.", path], check=True, timeout=120)


def _pending_triggers():
    """Packages with pending dpkg triggers: their processing would run their scripts too."""
    with open(os.path.join(DPKG_DIR, "triggers", "Unincorp")) as f:
        unincorporated = f.read().strip()
    with open(os.path.join(DPKG_DIR, "status")) as f:
        pending = [line for line in f if line.startswith("Status:") and "triggers-" in line]
    return unincorporated, pending


def _refresh(*flags):
    proc = subprocess.run(["update-ca-certificates", *flags], capture_output=True, text=True, check=False,
                          timeout=ANSIBLE_TIMEOUT)
    return dict(rc=proc.returncode, out=(proc.stdout + proc.stderr)[-2000:])


def inner(config_path):
    """The Debian scenario, run by ``unshare --mount --propagation private``; writes what it saw."""
    with open(config_path) as f:
        config = json.load(f)
    seen = {}
    try:
        # Refuse to touch anything unless we really are in another mount namespace.
        if os.readlink("/proc/self/ns/mnt") == config["outer_namespace"]:
            raise SystemExit("not in a private mount namespace; refusing to run")
        staging = tempfile.mkdtemp(prefix="ta-java-ns-")
        for path in (ANCHOR_DIR, CERTS_DIR, JAVA_STATE_DIR, DPKG_DIR):
            _hide_with_copy(path, staging)
        # dpkg logs the trigger run; keep that out of the real log.
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", LOG_DIR], check=True, timeout=60)
        for path in (ANCHOR_DIR, CERTS_DIR, JAVA_STATE_DIR, DPKG_DIR, LOG_DIR):
            if not _mounted_tmpfs(path):
                raise SystemExit("%s is not a private tmpfs; refusing to run" % path)
        unincorporated, pending = _pending_triggers()
        if unincorporated or pending:
            seen["skip"] = "dpkg has pending triggers (%s %s); processing them would run other packages' scripts" % (
                unincorporated, pending)
            return
        _scenario(config, seen)
    finally:
        with open(config["observations"], "w") as f:
            json.dump(seen, f, indent=2)


def _detection_is_safe():
    """True when every keystore the java store would find here is the (hidden) Debian one."""
    if os.environ.get("JAVA_HOME") or os.path.lexists("/etc/pki/java/cacerts"):
        return False
    found = set()
    for home in sorted(os.listdir("/usr/lib/jvm")):
        for parts in (("lib",), ("jre", "lib")):
            candidate = os.path.join("/usr/lib/jvm", home, *parts, "security", "cacerts")
            if os.path.exists(candidate):
                found.add(os.path.realpath(candidate))
    return found == {SYSTEM_CACERTS}


def _aliases(label):
    return sorted(a for a in keytool_entries(SYSTEM_CACERTS) if label.lower() in a)


def _scenario(config, seen):
    url, work, label = config["url"], config["work"], config["label"]
    seen["debian_alias"] = "debian:%s.pem" % label.lower()
    system = dict(src=config["ca"], stores=["system"])
    java = dict(src=config["ca"], stores=["java"])
    # Let the java store find the JDKs itself, unless that could reach a keystore outside the namespace's copies.
    seen["detection"] = _detection_is_safe()
    if not seen["detection"]:
        java["java_keystores"] = [SYSTEM_CACERTS]

    seen["before"] = java_client(url)
    seen["system_present"] = run_trust_anchor(work, system)
    seen["aliases_after_system"] = _aliases(label)
    seen["after_system"] = java_client(url)
    seen["system_absent"] = run_trust_anchor(work, dict(system, state="absent"))
    seen["aliases_after_system_absent"] = _aliases(label)
    seen["after_system_absent"] = java_client(url)
    seen["java_absent_cleanup"] = run_trust_anchor(work, dict(java, state="absent"))
    seen["aliases_after_cleanup"] = _aliases(label)
    seen["after_cleanup"] = java_client(url)
    seen["java_present"] = run_trust_anchor(work, java)
    seen["fresh"] = _refresh("--fresh")
    seen["aliases_after_fresh"] = _aliases(label)
    seen["after_fresh"] = java_client(url)
    seen["java_present_again"] = run_trust_anchor(work, java)
    seen["java_absent"] = run_trust_anchor(work, dict(java, state="absent"))
    seen["aliases_after_java_absent"] = _aliases(label)
    seen["after_java_absent"] = java_client(url)
    seen["done"] = True


@pytest.fixture(scope="module")
def debian_run(site, tmp_path_factory):
    reason = _debian_missing_prerequisites()
    if reason:
        pytest.skip(reason)
    url, marker, pki = site
    work = str(tmp_path_factory.mktemp("java_debian"))
    config = dict(url=url, work=work, ca=pki["ca"], label=pki["label"], observations=os.path.join(work, "seen.json"),
                  outer_namespace=os.readlink("/proc/self/ns/mnt"))
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    started = time.monotonic()
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, os.path.abspath(__file__), "--inner", config_path],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert proc.returncode == 0, "namespace run failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:])
    with open(config["observations"]) as f:
        seen = json.load(f)
    if "skip" in seen:
        pytest.skip(seen["skip"])
    seen.update(label=pki["label"], marker=marker)
    timings = _timings(seen)
    timings["namespace_total"] = round(time.monotonic() - started, 2)
    _save_timings("debian", timings)
    return seen


def test_debian_system_store_alone_reaches_the_jvm_default_keystore(debian_run):
    assert debian_run["before"]["rc"] == 3 and UNTRUSTED in debian_run["before"]["out"], debian_run["before"]
    assert ok(debian_run["system_present"])["changed"] is True
    # The ca-certificates-java hook imported it under its own alias; the JVM without any option trusts it.
    assert debian_run["aliases_after_system"] == [debian_run["debian_alias"]]
    assert debian_run["after_system"]["rc"] == 0, debian_run["after_system"]
    assert debian_run["marker"] in debian_run["after_system"]["out"]


def test_debian_system_absent_does_not_reach_the_jvm_keystore(debian_run):
    # A Debian limitation, not ours: update-ca-certificates does not pass the removal of a local
    # anchor to its hooks, so the JVM keeps trusting the CA. docs/trust.md says so.
    assert ok(debian_run["system_absent"])["changed"] is True
    assert debian_run["aliases_after_system_absent"] == [debian_run["debian_alias"]]
    assert debian_run["after_system_absent"]["rc"] == 0


def test_debian_java_store_absent_removes_what_the_hook_left(debian_run):
    result = ok(debian_run["java_absent_cleanup"])
    assert keystores(result) == [dict(changed=True, path=SYSTEM_CACERTS)]
    assert debian_run["aliases_after_cleanup"] == []
    after = debian_run["after_cleanup"]
    assert after["rc"] == 3 and UNTRUSTED in after["out"], after


def test_debian_java_store_entry_survives_update_ca_certificates_fresh(debian_run):
    assert keystores(debian_run["java_present"]) == [dict(changed=True, path=SYSTEM_CACERTS)]
    assert debian_run["fresh"]["rc"] == 0, debian_run["fresh"]
    assert debian_run["aliases_after_fresh"] == [debian_run["label"].lower()]
    assert debian_run["after_fresh"]["rc"] == 0, debian_run["after_fresh"]
    assert ok(debian_run["java_present_again"])["changed"] is False
    assert ok(debian_run["java_absent"])["changed"] is True
    assert debian_run["aliases_after_java_absent"] == []
    assert debian_run["after_java_absent"]["rc"] == 3


def test_debian_default_detection_was_used(debian_run):
    if not debian_run["detection"]:
        pytest.skip("a JDK here has a keystore of its own: the namespace run named the keystore instead")


# --- last: nothing of the machine itself was changed ----------------------------------------

def test_the_real_keystore_and_trust_store_were_not_touched(real_store, cacerts_run, truststore_run):
    assert cacerts_run["source"] is None or cacerts_run["keystore"] != cacerts_run["source"]
    assert (_digest(SYSTEM_CACERTS), _digest(SYSTEM_BUNDLE)) == real_store


if __name__ == "__main__" and sys.argv[1:2] == ["--inner"]:
    inner(sys.argv[2])
