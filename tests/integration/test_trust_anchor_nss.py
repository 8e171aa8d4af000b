# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet.pki.trust_anchor, store nss, for real: the module through ansible-playbook, then headless Chromium.

A throwaway CA signs a leaf for 127.0.0.31; a Python HTTPS server thread serves a page with a
marker there. Chromium on Linux trusts only ``$HOME/.pki/nssdb``, so each scenario has its own
empty HOME, and every page load gets a fresh ``--user-data-dir``:

- default: the module runs with HOME=<home> and no ``nss_databases``, so it must find and create
  ``<home>/.pki/nssdb`` by itself;
- explicit: the module runs with another HOME and gets ``<alice>/.pki/nssdb`` through the host
  variable ``fleet_pki_nss_databases`` (and the task option for the removal); as root, <alice> is
  owned by ``nobody`` and Chromium runs as ``nobody``, which proves the new files were handed over.

Before the install and after the removal Chromium must fail with ``ERR_CERT_AUTHORITY_INVALID``.
A screenshot of the trusted page is kept in ``tests/output/artifacts/``.
"""

from __future__ import annotations

import http.server
import json
import os
import pwd
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import uuid

import pytest

import throwaway_pki

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chromium  # noqa: E402  pylint: disable=wrong-import-position


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ARTIFACTS = os.path.join(REPO, "tests", "output", "artifacts")
ADDRESS = "127.0.0.31"
UNTRUSTED = "ERR_CERT_AUTHORITY_INVALID"
ANSIBLE_TIMEOUT = 300


def _missing_prerequisites():
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    reason = chromium.missing_reason()
    if reason:
        return reason
    if not shutil.which("certutil"):
        return "certutil is absent (apt-get install libnss3-tools)"
    if not os.path.exists(os.path.join(BIN, "ansible-playbook")):
        return "ansible-playbook is not installed next to %s" % sys.executable
    try:
        import cryptography  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "the Python library cryptography is missing"
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisites() is not None, reason=str(_missing_prerequisites()))


# --- the server -----------------------------------------------------------------------------

def make_pki(directory):
    """A throwaway CA and a leaf for this test's address (see throwaway_pki.make_pki)."""
    return throwaway_pki.make_pki(directory, ADDRESS, "fleet.pki NSS test CA")


class _Page(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def page(marker):
    return ("""<!DOCTYPE html>
<html><head><title>fleet.pki device</title></head>
<body style="font-family: sans-serif; background: #eef6ee; margin: 60px">
<h1 style="color: #1b5e20">fleet.pki: trusted device page</h1>
<p>Served over HTTPS from https://%s/ with a leaf signed by a throwaway fleet CA,
trusted by Chromium through <code>$HOME/.pki/nssdb</code>.</p>
<p id="marker" style="font-size: 28px">%s</p>
</body></html>
""" % (ADDRESS, marker)).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # refused handshakes are the negative controls, not errors


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(url, marker, pki paths): the HTTPS server thread runs for the whole module."""
    work = str(tmp_path_factory.mktemp("nss_pki"))
    pki = make_pki(work)
    marker = "fleet-pki-nss-marker-%s" % uuid.uuid4().hex
    handler = type("Page", (_Page,), {"body": page(marker)})
    server = _Server((ADDRESS, 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["leaf"], pki["leaf_key"])
    # Handshakes happen in the handler threads, so a silent client cannot block accept().
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, name="nss-https", daemon=True)
    thread.start()
    try:
        yield "https://%s:%d/" % (ADDRESS, server.server_address[1]), marker, pki
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


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
        stores: [nss]
        state: "{{ ta.state | default(omit) }}"
        nss_databases: "{{ ta.nss_databases | default(omit) }}"
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


def run_trust_anchor(work, home, module_args, *flags, host_vars=None):
    """Run the real module through ansible-playbook with HOME=home; return its result plus rc."""
    playbook = os.path.join(work, "trust_anchor.yml")
    with open(playbook, "w") as f:
        f.write(PLAYBOOK)
    out = os.path.join(work, "result-%s.json" % uuid.uuid4().hex)
    extra = os.path.join(work, "vars-%s.json" % uuid.uuid4().hex)
    with open(extra, "w") as f:
        json.dump(dict(host_vars or {}, ta=module_args, ta_out=out, ansible_python_interpreter=sys.executable), f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=home, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", PATH=BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin"))
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", "@" + extra, playbook,
           *flags]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=ANSIBLE_TIMEOUT)
    try:
        with open(out) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = dict(failed=True, msg="no result", stdout=proc.stdout[-3000:], stderr=proc.stderr[-3000:])
    result["rc"] = proc.returncode
    return result


def ok(result):
    assert result["rc"] == 0 and not result.get("failed"), json.dumps(result, indent=2)
    return result


def databases(result):
    return ok(result)["stores"]["nss"]["databases"]


def nicknames(directory):
    """{nickname: trust flags} of the NSS database in directory (empty when there is none)."""
    if not os.path.exists(os.path.join(directory, "cert9.db")):
        return {}
    proc = subprocess.run(["certutil", "-L", "-d", "sql:" + directory], capture_output=True, text=True, check=True,
                          timeout=60, env=dict(os.environ, LC_ALL="C"))
    return {line.rsplit(None, 1)[0]: line.rsplit(None, 1)[1] for line in proc.stdout.splitlines()[4:] if line.strip()}


def label_of(result):
    return ok(result)["label"]


class Browser:
    """Chromium loads with a fresh profile each time; keeps the timings."""

    def __init__(self, work, user=None):
        self.work = work
        self.user = user
        self.timings = []

    def load(self, url, home):
        profile = tempfile.mkdtemp(prefix="profile-", dir=self.work)
        if self.user is not None:
            os.chown(profile, *self.user)
        loaded, dom, problem = chromium.load(url, home, profile, user=self.user)
        self.timings.append(round(chromium.load.last_seconds, 2))
        return dict(ok=loaded, dom=dom, error=problem)


# --- scenario 1: the default database of the user the module runs as -----------------------

@pytest.fixture(scope="module")
def default_run(site, tmp_path_factory):
    url, marker, pki = site
    work = str(tmp_path_factory.mktemp("nss_default"))
    home = os.path.join(work, "home")
    os.mkdir(home, 0o700)
    nssdb = os.path.join(home, ".pki", "nssdb")
    browser = Browser(work)
    seen = dict(marker=marker, nssdb=nssdb)
    present = dict(src=pki["ca"])
    absent = dict(present, state="absent")

    seen["before"] = browser.load(url, home)
    seen["check"] = run_trust_anchor(work, home, present, "--check", "--diff")
    seen["nssdb_after_check"] = os.path.exists(nssdb)
    seen["present"] = run_trust_anchor(work, home, present, "--diff")
    seen["nicknames"] = nicknames(nssdb)
    seen["modes"] = {path: oct(os.stat(path).st_mode & 0o777) for path in (os.path.dirname(nssdb), nssdb)}
    seen["after"] = browser.load(url, home)
    shot = os.path.join(ARTIFACTS, "nss-chromium-trusted.png")
    seen["screenshot"] = chromium.screenshot(url, home, shot) + (shot,)
    seen["screenshot_seconds"] = round(chromium.screenshot.last_seconds, 2)
    seen["present_again"] = run_trust_anchor(work, home, present)
    seen["absent"] = run_trust_anchor(work, home, absent, "--diff")
    seen["nicknames_after_absent"] = nicknames(nssdb)
    seen["after_absent"] = browser.load(url, home)
    seen["absent_again"] = run_trust_anchor(work, home, absent)
    seen["chromium_seconds"] = browser.timings
    _save_timings("default", seen)
    return seen


def _save_timings(scenario, seen):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, "nss-chromium-timings.json")
    try:
        with open(path) as f:
            timings = json.load(f)
    except (OSError, ValueError):
        timings = {}
    timings[scenario] = dict(loads=seen["chromium_seconds"], screenshot=seen.get("screenshot_seconds"))
    with open(path, "w") as f:
        json.dump(timings, f, indent=2)


def test_default_before_install_chromium_refuses_the_device(default_run):
    before = default_run["before"]
    assert not before["ok"]
    assert UNTRUSTED in (before["error"] or ""), before
    assert default_run["marker"] not in before["dom"]


def test_default_check_mode_reports_a_change_and_creates_nothing(default_run):
    result = ok(default_run["check"])
    assert result["changed"] is True
    assert databases(result) == [dict(changed=True, path=default_run["nssdb"])]
    assert default_run["nssdb_after_check"] is False
    assert result["diff"][0]["before"] == "absent\n"
    assert result["diff"][0]["before_header"] == "nss: %s" % default_run["nssdb"]


def test_default_present_creates_home_nssdb_and_adds_the_ca(default_run):
    result = ok(default_run["present"])
    assert result["changed"] is True
    assert databases(result) == [dict(changed=True, path=default_run["nssdb"])]
    assert default_run["nicknames"] == {label_of(result): "C,,"}
    assert set(default_run["modes"].values()) == {"0o700"}
    assert result["diff"][0]["after"].startswith("present: %s (sha256 %s)" % (result["label"], result["sha256"]))


def test_default_after_install_chromium_loads_the_page(default_run):
    after = default_run["after"]
    assert after["ok"], after
    assert default_run["marker"] in after["dom"]
    assert after["error"] is None


def test_default_screenshot_of_the_trusted_page(default_run):
    shot_ok, problem, path = default_run["screenshot"]
    assert shot_ok, problem
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_default_second_run_changes_nothing(default_run):
    result = ok(default_run["present_again"])
    assert result["changed"] is False
    assert databases(result) == [dict(changed=False, path=default_run["nssdb"])]


def test_default_absent_removes_the_ca_and_chromium_refuses_again(default_run):
    result = ok(default_run["absent"])
    assert result["changed"] is True
    assert result["diff"][0]["after"] == "absent\n"
    assert default_run["nicknames_after_absent"] == {}
    after = default_run["after_absent"]
    assert not after["ok"] and UNTRUSTED in (after["error"] or ""), after
    again = ok(default_run["absent_again"])
    assert again["changed"] is False


# --- scenario 2: an explicit database of another user ---------------------------------------

def _other_user():
    """(uid, gid) of the account that owns the explicit database, or None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


@pytest.fixture(scope="module")
def explicit_run(site, tmp_path_factory):
    url, marker, pki = site
    work = str(tmp_path_factory.mktemp("nss_explicit"))
    runner_home = os.path.join(work, "runner")
    os.mkdir(runner_home, 0o700)
    user = _other_user()
    # Outside pytest's 0700 tree, so that the other user can reach its home.
    base = tempfile.mkdtemp(prefix="fleet-pki-nss-")
    os.chmod(base, 0o755)
    try:
        alice = os.path.join(base, "alice")
        os.mkdir(alice, 0o700)
        if user is not None:
            os.chown(alice, *user)
        nssdb = os.path.join(alice, ".pki", "nssdb")
        browser = Browser(base, user=user)
        seen = dict(marker=marker, nssdb=nssdb, user=user, runner_home=runner_home)
        present = dict(src=pki["ca"])
        knob = dict(fleet_pki_nss_databases=[nssdb])

        seen["before"] = browser.load(url, alice)
        seen["present"] = run_trust_anchor(work, runner_home, present, host_vars=knob)
        seen["owners"] = {path: (os.stat(path).st_uid, os.stat(path).st_gid)
                          for path in [os.path.dirname(nssdb), nssdb] + [os.path.join(nssdb, n) for n in os.listdir(nssdb)]}
        seen["runner_pki"] = os.path.exists(os.path.join(runner_home, ".pki"))
        seen["nicknames"] = nicknames(nssdb)
        seen["after"] = browser.load(url, alice)
        seen["present_again"] = run_trust_anchor(work, runner_home, present, host_vars=knob)
        seen["absent"] = run_trust_anchor(work, runner_home, dict(present, state="absent", nss_databases=[nssdb]))
        seen["after_absent"] = browser.load(url, alice)
        seen["chromium_seconds"] = browser.timings
        _save_timings("explicit", seen)
        yield seen
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_explicit_before_install_chromium_refuses_the_device(explicit_run):
    assert UNTRUSTED in (explicit_run["before"]["error"] or ""), explicit_run["before"]


def test_explicit_database_from_the_host_variable(explicit_run):
    result = ok(explicit_run["present"])
    assert result["changed"] is True
    assert databases(result) == [dict(changed=True, path=explicit_run["nssdb"])]
    assert explicit_run["nicknames"] == {result["label"]: "C,,"}
    # The runner's own ~/.pki/nssdb is not the target this time.
    assert explicit_run["runner_pki"] is False


def test_explicit_new_files_belong_to_the_owner_of_the_home(explicit_run):
    if explicit_run["user"] is None:
        pytest.skip("needs root and the account nobody to test a database of another user")
    owners = explicit_run["owners"]
    assert set(owners.values()) == {explicit_run["user"]}, owners
    assert {os.path.basename(p) for p in owners} >= {".pki", "nssdb", "cert9.db", "key4.db", "pkcs11.txt"}


def test_explicit_chromium_of_that_user_trusts_the_device(explicit_run):
    after = explicit_run["after"]
    assert after["ok"] and explicit_run["marker"] in after["dom"], after


def test_explicit_idempotent_and_removable(explicit_run):
    assert ok(explicit_run["present_again"])["changed"] is False
    assert ok(explicit_run["absent"])["changed"] is True
    assert UNTRUSTED in (explicit_run["after_absent"]["error"] or ""), explicit_run["after_absent"]
