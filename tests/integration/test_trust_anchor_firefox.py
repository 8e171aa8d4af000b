# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet.pki.trust_anchor with nss_users, for real: a throwaway local user, its Firefox profiles and Chromium.

As root, a real user ``fleetpki-ff-<random>`` is created (``useradd -m``) and deleted again
(``userdel -r``). As that user, the real ``certutil -N`` makes a Firefox layout in its home:

- ``~/.mozilla/firefox/<x>.default-release`` (cert9.db), listed in profiles.ini with IsRelative=1;
- ``~/Documents/firefox-work`` (cert9.db), listed in the same profiles.ini with IsRelative=0 and an
  absolute Path;
- ``~/.mozilla/firefox/<y>.legacy`` (a legacy cert8.db, ``certutil -N -d dbm:``), not listed: it is found
  because it holds a database;
- ``~/snap/firefox/common/.mozilla/firefox/<z>.default`` (cert9.db), with the snap root's own profiles.ini;
- ``~/.mozilla/firefox/never.default``, listed but never started (no database): it must stay so.

The module runs through ansible-playbook with ``stores: [nss]`` and ``nss_users: [<user>]``. The TLS
clients are NSS's own ``tstclnt`` on each profile database (it fails with SEC_ERROR_UNKNOWN_ISSUER on an
untrusted server and exits 0 on a trusted one) and headless Chromium with the user's HOME for the
Chromium database; both run as the user, against a loopback HTTPS server whose leaf the throwaway CA
signed. The firefox_policy store is run against a policies.json in a temporary directory (Firefox
itself is not installed here).
"""

from __future__ import annotations

import json
import os
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
from test_trust_anchor_nss import _Page, _Server, page  # noqa: E402  pylint: disable=wrong-import-position


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ADDRESS = "127.0.0.33"
UNTRUSTED_NSS = "SEC_ERROR_UNKNOWN_ISSUER"
UNTRUSTED_CHROMIUM = "ERR_CERT_AUTHORITY_INVALID"
ANSIBLE_TIMEOUT = 300


def _missing_prerequisites():
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root to create a throwaway user"
    for tool, package in (("certutil", "libnss3-tools"), ("tstclnt", "libnss3-tools"), ("useradd", "passwd"),
                          ("userdel", "passwd")):
        if not shutil.which(tool):
            return "%s is absent (apt-get install %s)" % (tool, package)
    if not os.path.exists(os.path.join(BIN, "ansible-playbook")):
        return "ansible-playbook is not installed next to %s" % sys.executable
    try:
        import cryptography  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "the Python library cryptography is missing"
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisites() is not None, reason=str(_missing_prerequisites()))


# --- the server and the clients ---------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(host, port, marker, pki paths) of an HTTPS server thread that runs for the whole module."""
    work = str(tmp_path_factory.mktemp("firefox_pki"))
    pki = throwaway_pki.make_pki(work, ADDRESS, "fleet.pki Firefox test CA")
    marker = "fleet-pki-firefox-marker-%s" % uuid.uuid4().hex
    server = _Server((ADDRESS, 0), type("Page", (_Page,), {"body": page(marker)}))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["leaf"], pki["leaf_key"])
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, name="firefox-https", daemon=True)
    thread.start()
    try:
        yield ADDRESS, server.server_address[1], marker, pki
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def prefix_of(directory):
    return "sql" if os.path.exists(os.path.join(directory, "cert9.db")) else "dbm"


def tstclnt(directory, host, port, user):
    """NSS's TLS client on the database in directory, as user; (rc, output)."""
    proc = subprocess.run(["tstclnt", "-h", host, "-p", str(port), "-d", "%s:%s" % (prefix_of(directory), directory), "-Q"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False, timeout=60,
                          env=dict(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LC_ALL="C"),
                          user=user[0], group=user[1], extra_groups=[])
    return proc.returncode, proc.stdout + proc.stderr


def nicknames(directory):
    """{nickname: trust flags} of the NSS database in directory."""
    proc = subprocess.run(["certutil", "-L", "-d", "%s:%s" % (prefix_of(directory), directory)], capture_output=True,
                          text=True, check=True, timeout=60, env=dict(os.environ, LC_ALL="C"))
    return {line.rsplit(None, 1)[0]: line.rsplit(None, 1)[1] for line in proc.stdout.splitlines()[4:] if line.strip()}


def tree(top):
    """{path: (uid, gid, mode, size, mtime_ns)} of everything below top (top included)."""
    result = {}
    for base, dirs, files in os.walk(top):
        for path in [base] + [os.path.join(base, name) for name in dirs + files]:
            st = os.lstat(path)
            result[path] = (st.st_uid, st.st_gid, st.st_mode, st.st_size, st.st_mtime_ns)
    return result


# --- ansible --------------------------------------------------------------------------------

PLAYBOOK = """
- name: Run fleet.pki.trust_anchor once and save its result
  hosts: all
  gather_facts: false
  tasks:
    - name: Trust anchor
      fleet.pki.trust_anchor:
        src: "{{ ta.src }}"
        stores: "{{ ta.stores }}"
        state: "{{ ta.state | default(omit) }}"
        nss_users: "{{ ta.nss_users | default(omit) }}"
        firefox_policy_path: "{{ ta.firefox_policy_path | default(omit) }}"
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


def run_trust_anchor(work, module_args, *flags, host_vars=None):
    """Run the real module through ansible-playbook; return its result plus rc."""
    playbook = os.path.join(work, "trust_anchor.yml")
    with open(playbook, "w") as f:
        f.write(PLAYBOOK)
    out = os.path.join(work, "result-%s.json" % uuid.uuid4().hex)
    extra = os.path.join(work, "vars-%s.json" % uuid.uuid4().hex)
    with open(extra, "w") as f:
        json.dump(dict(host_vars or {}, ta=module_args, ta_out=out, ansible_python_interpreter=sys.executable), f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=os.path.join(work, "runner"), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", PATH=BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin"))
    os.makedirs(env["HOME"], mode=0o700, exist_ok=True)
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", "@" + extra, playbook, *flags]
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


# --- the throwaway user and its Firefox layout -------------------------------------------------

def _as_user(user, *argv):
    subprocess.run(list(argv), check=True, capture_output=True, text=True, timeout=60, user=user[0], group=user[1],
                   extra_groups=[], env=dict(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LC_ALL="C"))


@pytest.fixture(scope="module")
def account():
    """(name, (uid, gid), home) of a real local user that exists for this module only."""
    import pwd  # pylint: disable=import-outside-toplevel
    name = "fleetpki-ff-%s" % uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True, capture_output=True, timeout=60)
    try:
        entry = pwd.getpwnam(name)
        yield name, (entry.pw_uid, entry.pw_gid), entry.pw_dir
    finally:
        subprocess.run(["userdel", "-r", name], check=False, capture_output=True, timeout=60)
        if "entry" in locals() and os.path.isdir(entry.pw_dir):
            shutil.rmtree(entry.pw_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def layout(account):
    """The Firefox profiles of the user, made by the user with the real certutil; {kind: directory}."""
    name, user, home = account
    classic_root = os.path.join(home, ".mozilla", "firefox")
    snap_root = os.path.join(home, "snap", "firefox", "common", ".mozilla", "firefox")
    profiles = dict(
        classic=os.path.join(classic_root, "k3x9a1.default-release"),
        custom=os.path.join(home, "Documents", "firefox-work"),
        legacy=os.path.join(classic_root, "o1d4pp.legacy"),
        snap=os.path.join(snap_root, "s7nap2.default"),
    )
    never = os.path.join(classic_root, "never.default")
    for directory in list(profiles.values()) + [never]:
        _as_user(user, "mkdir", "-p", directory)
    for kind, directory in profiles.items():
        prefix = "dbm" if kind == "legacy" else "sql"
        _as_user(user, "certutil", "-N", "-d", "%s:%s" % (prefix, directory), "--empty-password")
    ini = ("[Profile1]\nName=work\nIsRelative=0\nPath=%s\n\n"
           "[Profile0]\nName=default-release\nIsRelative=1\nPath=k3x9a1.default-release\nDefault=1\n\n"
           "[Profile2]\nName=never\nIsRelative=1\nPath=never.default\n\n"
           "[General]\nStartWithLastProfile=1\nVersion=2\n" % profiles["custom"])
    for root, text in ((classic_root, ini), (snap_root, "[Profile0]\nName=default\nIsRelative=1\nPath=s7nap2.default\n")):
        path = os.path.join(root, "profiles.ini")
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, *user)
    return dict(profiles=profiles, never=never, chromium=os.path.join(home, ".pki", "nssdb"))


@pytest.fixture(scope="module")
def legacy_supported(layout):
    return os.path.exists(os.path.join(layout["profiles"]["legacy"], "cert8.db"))


class Browser:
    """Headless Chromium as the user, with the user's HOME and a fresh profile outside it each time."""

    def __init__(self, user):
        self.user = user
        self.base = tempfile.mkdtemp(prefix="fleet-pki-ff-chromium-")
        os.chmod(self.base, 0o755)

    def load(self, url, home):
        profile = tempfile.mkdtemp(prefix="profile-", dir=self.base)
        os.chown(profile, *self.user)
        loaded, dom, problem = chromium.load(url, home, profile, user=self.user)
        return dict(ok=loaded, dom=dom, error=problem)

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def users_run(site, account, layout, tmp_path_factory):
    host, port, marker, pki = site
    name, user, home = account
    work = str(tmp_path_factory.mktemp("firefox_users"))
    profiles = sorted(os.path.realpath(p) for p in layout["profiles"].values())
    url = "https://%s:%d/" % (host, port)
    browser = Browser(user) if chromium.missing_reason() is None else None
    present = dict(src=pki["ca"], stores=["nss"], nss_users=[name])
    absent = dict(present, state="absent")
    seen = dict(marker=marker, profiles=profiles, places=[layout["chromium"]] + profiles, user=user, home=home)

    def clients():
        return dict(tstclnt={p: tstclnt(p, host, port, user) for p in profiles},
                    chromium=browser.load(url, home) if browser else None)

    try:
        seen["before"] = clients()
        seen["tree_before_check"] = tree(home)
        seen["check"] = run_trust_anchor(work, present, "--check", "--diff")
        seen["tree_after_check"] = tree(home)
        seen["present"] = run_trust_anchor(work, present, "--diff")
        seen["tree_after_present"] = tree(home)
        seen["nicknames"] = {p: nicknames(p) for p in seen["places"]}
        seen["after"] = clients()
        # Again through the host variable: the same places, nothing to do.
        seen["present_again"] = run_trust_anchor(work, dict(present, nss_users=None),
                                                 host_vars=dict(fleet_pki_nss_users=[name]))
        seen["absent"] = run_trust_anchor(work, absent, "--diff")
        seen["nicknames_after_absent"] = {p: nicknames(p) for p in seen["places"]}
        seen["after_absent"] = clients()
        seen["absent_again"] = run_trust_anchor(work, absent)
        seen["unknown"] = run_trust_anchor(work, dict(present, nss_users=[name, "fleetpki-no-such-user"]))
        yield seen
    finally:
        if browser:
            browser.close()


def test_the_layout_is_real(users_run, legacy_supported):
    # Each profile directory was made by certutil as the user.
    assert len(users_run["profiles"]) == 4
    assert legacy_supported, "this NSS could not create a dbm: (cert8.db) database"


def test_before_install_no_client_trusts_the_device(users_run):
    for profile, (rc, output) in users_run["before"]["tstclnt"].items():
        assert rc != 0 and UNTRUSTED_NSS in output, (profile, output)
    if users_run["before"]["chromium"] is not None:
        assert UNTRUSTED_CHROMIUM in (users_run["before"]["chromium"]["error"] or ""), users_run["before"]["chromium"]


def test_check_mode_reports_every_place_and_changes_nothing(users_run):
    result = ok(users_run["check"])
    assert result["changed"] is True
    assert result["stores"]["nss"]["databases"] == [dict(changed=True, path=p) for p in users_run["places"]]
    assert [d["before_header"] for d in result["diff"]] == ["nss: %s" % p for p in users_run["places"]]
    assert users_run["tree_after_check"] == users_run["tree_before_check"]


def test_present_adds_the_ca_to_chromium_and_every_firefox_profile(users_run):
    result = ok(users_run["present"])
    assert result["changed"] is True
    assert result["stores"]["nss"]["databases"] == [dict(changed=True, path=p) for p in users_run["places"]]
    for place, entries in users_run["nicknames"].items():
        assert entries == {result["label"]: "C,,"}, place


def test_every_file_in_the_home_still_belongs_to_the_user(users_run):
    owners = {path: meta[:2] for path, meta in users_run["tree_after_present"].items()}
    assert set(owners.values()) == {users_run["user"]}, {p: o for p, o in owners.items() if o != users_run["user"]}
    # The Chromium database was created (and handed over); the Firefox ones were only changed.
    assert os.path.join(users_run["home"], ".pki", "nssdb", "cert9.db") in owners


def test_a_profile_that_never_started_gets_no_database(users_run, layout):
    assert os.listdir(layout["never"]) == []


def test_after_install_every_client_trusts_the_device(users_run):
    for profile, (rc, output) in users_run["after"]["tstclnt"].items():
        assert rc == 0 and UNTRUSTED_NSS not in output, (profile, output)
    after = users_run["after"]["chromium"]
    if after is None:
        pytest.skip(chromium.missing_reason())
    assert after["ok"] and users_run["marker"] in after["dom"], after


def test_second_run_through_the_host_variable_changes_nothing(users_run):
    result = ok(users_run["present_again"])
    assert result["changed"] is False
    assert result["stores"]["nss"]["databases"] == [dict(changed=False, path=p) for p in users_run["places"]]


def test_absent_removes_it_everywhere_and_the_clients_refuse_again(users_run):
    result = ok(users_run["absent"])
    assert result["changed"] is True
    assert all(d["after"] == "absent\n" for d in result["diff"])
    assert users_run["nicknames_after_absent"] == {p: {} for p in users_run["places"]}
    for profile, (rc, output) in users_run["after_absent"]["tstclnt"].items():
        assert rc != 0 and UNTRUSTED_NSS in output, (profile, output)
    if users_run["after_absent"]["chromium"] is not None:
        assert UNTRUSTED_CHROMIUM in (users_run["after_absent"]["chromium"]["error"] or "")
    assert ok(users_run["absent_again"])["changed"] is False


def test_an_unknown_user_fails_naming_it(users_run):
    result = users_run["unknown"]
    assert result.get("failed") is True
    assert "fleetpki-no-such-user" in result["msg"], result


# --- the Firefox enterprise policy ------------------------------------------------------------

@pytest.fixture(scope="module")
def policy_run(site, tmp_path_factory):
    dummy, dummy, dummy, pki = site
    work = str(tmp_path_factory.mktemp("firefox_policy"))
    policy = os.path.join(work, "etc", "firefox", "policies", "policies.json")
    os.makedirs(os.path.dirname(policy))
    existing = {"policies": {"DisableAppUpdate": True, "Certificates": {"Install": ["corp-root.pem"]}}}
    with open(policy, "w") as f:
        json.dump(existing, f)
    os.chmod(policy, 0o640)
    present = dict(src=pki["ca"], stores=["firefox_policy"])
    knob = dict(fleet_pki_firefox_policy_path=policy)
    seen = dict(policy=policy, existing=existing)

    def content():
        with open(policy) as f:
            return json.load(f)

    seen["check"] = run_trust_anchor(work, present, "--check", "--diff", host_vars=knob)
    seen["after_check"] = content()
    seen["present"] = run_trust_anchor(work, present, host_vars=knob)
    seen["after_present"] = content()
    seen["mode"] = oct(os.stat(policy).st_mode & 0o777)
    seen["present_again"] = run_trust_anchor(work, dict(present, firefox_policy_path=policy))
    seen["absent"] = run_trust_anchor(work, dict(present, state="absent"), host_vars=knob)
    seen["after_absent"] = content()
    seen["absent_again"] = run_trust_anchor(work, dict(present, state="absent"), host_vars=knob)
    with open(policy, "w") as f:
        f.write("{ broken")
    seen["broken"] = run_trust_anchor(work, present, host_vars=knob)
    with open(policy) as f:
        seen["broken_after"] = f.read()
    return seen


def test_policy_check_mode_changes_nothing(policy_run):
    result = ok(policy_run["check"])
    assert result["changed"] is True
    assert result["stores"]["firefox_policy"] == dict(changed=True, path=policy_run["policy"])
    assert policy_run["after_check"] == policy_run["existing"]


def test_policy_install_merges_and_keeps_the_rest(policy_run):
    result = ok(policy_run["present"])
    certificate = os.path.join(os.path.dirname(policy_run["policy"]), "certificates", "%s.crt" % result["label"])
    assert policy_run["after_present"] == {"policies": {"DisableAppUpdate": True, "Certificates": {
        "Install": ["corp-root.pem", certificate]}}}
    assert policy_run["mode"] == "0o640"
    assert ok(policy_run["present_again"])["changed"] is False


def test_policy_absent_takes_only_ours(policy_run):
    assert ok(policy_run["absent"])["changed"] is True
    assert policy_run["after_absent"] == policy_run["existing"]
    assert ok(policy_run["absent_again"])["changed"] is False
    certificates = os.path.join(os.path.dirname(policy_run["policy"]), "certificates")
    assert os.listdir(certificates) == []


def test_policy_invalid_json_is_refused_and_left_alone(policy_run):
    result = policy_run["broken"]
    assert result.get("failed") is True and "not valid JSON" in result["msg"] and policy_run["policy"] in result["msg"]
    assert policy_run["broken_after"] == "{ broken"
