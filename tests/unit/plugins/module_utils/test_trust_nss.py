# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The nss store against the real certutil, on temporary databases."""

from __future__ import annotations

import collections
import hashlib
import os
import pwd
import shutil
import stat
import subprocess

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, der_to_pem, sha256_hex
from ansible_collections.fleet.pki.plugins.module_utils._trust_nss import (
    NssDatabase,
    certutil_missing_message,
    database_directories,
    database_prefix,
    default_database,
    has_login_shell,
    login_uid_range,
    nss_places,
    users_in_scope,
)
from ansible_collections.fleet.pki.plugins.modules import trust_anchor

pytest.importorskip("cryptography")
from throwaway_ca import make_ca_der  # noqa: E402


CERTUTIL = shutil.which("certutil")
needs_certutil = pytest.mark.skipif(CERTUTIL is None, reason="certutil is absent (apt-get install libnss3-tools)")

LABEL = "Fleet_Root_CA-0123456789abcdef"
WRITES = ("-A", "-D", "-N", "-M")


@pytest.fixture(scope="module")
def ours():
    return make_ca_der("Fleet Root CA")


@pytest.fixture(scope="module")
def ours_recreated():
    # Same subject, new key: what a re-created CA with the same name looks like to NSS.
    return make_ca_der("Fleet Root CA")


@pytest.fixture(scope="module")
def foreign():
    return make_ca_der("Someone Else CA")


class Runner:
    """What AnsibleModule.run_command does, recording every call and its environment."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, environ_update=None):
        self.calls.append((list(argv), dict(environ_update or {})))
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60,
                              env=dict(os.environ, **(environ_update or {})))
        return proc.returncode, proc.stdout, proc.stderr

    def writes(self):
        return [argv for argv, dummy in self.calls if argv[1] in WRITES]


def certutil(*args, stdin=None):
    return subprocess.run([CERTUTIL, *args], input=stdin, capture_output=True, text=True, check=True, timeout=60,
                          env=dict(os.environ, LC_ALL="C"))


def new_db(directory, prefix="sql"):
    os.makedirs(directory, exist_ok=True)
    certutil("-N", "-d", "%s:%s" % (prefix, directory), "--empty-password")
    return directory


def add_with_certutil(directory, nickname, der, trust="C,,", prefix="sql"):
    certutil("-A", "-d", "%s:%s" % (prefix, directory), "-n", nickname, "-t", trust, stdin=der_to_pem(der))


def listing(directory, prefix="sql"):
    """{nickname: [trust flags]} straight from certutil."""
    out = certutil("-L", "-d", "%s:%s" % (prefix, directory)).stdout
    entries = {}
    for line in out.splitlines()[4:]:
        if line.strip():
            nickname, flags = line.rstrip().rsplit(None, 1)
            entries.setdefault(nickname, []).append(flags)
    return entries


def fingerprints(directory, nickname, prefix="sql"):
    out = certutil("-L", "-d", "%s:%s" % (prefix, directory), "-n", nickname, "-a").stdout
    return sorted(sha256_hex(d) for d in _ders(out))


def _ders(pem_text):
    from ansible_collections.fleet.pki.plugins.module_utils._trust_label import certificate_ders  # pylint: disable=import-outside-toplevel
    return certificate_ders(pem_text)


def snapshot(directory):
    """Every path below directory with its mode, size, mtime and content hash."""
    result = {}
    for base, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            result[path] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return result


@pytest.fixture
def runner():
    return Runner()


@pytest.fixture
def tmpdir_files(tmp_path):
    directory = tmp_path / "moduletmp"
    directory.mkdir()
    return directory


@pytest.fixture
def store_at(runner, tmpdir_files):
    def make(directory):
        return NssDatabase(str(directory), CERTUTIL, runner, tmpdir=str(tmpdir_files))
    return make


# --- paths and messages (no certutil needed) -------------------------------------------------

def test_default_database_is_chromiums(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_database() == str(tmp_path / ".pki" / "nssdb")
    assert database_directories(None) == [str(tmp_path / ".pki" / "nssdb")]
    assert default_database("/home/alice") == "/home/alice/.pki/nssdb"


def test_database_directories_are_normalised_and_deduplicated():
    assert database_directories(["/a/b/", "/a//b", "/c"]) == ["/a/b", "/c"]


@pytest.mark.parametrize("paths, words", [
    ([], ["nss_databases is empty"]),
    (["relative/nssdb"], ["'relative/nssdb'", "absolute"]),
    (["sql:/home/a/.pki/nssdb"], ["'sql:/home/a/.pki/nssdb'", "sql: prefix"]),
    (["dbm:/x"], ["dbm: prefix"]),
    ([""], ["is not a path"]),
])
def test_bad_database_paths_are_refused_by_name(paths, words):
    with pytest.raises(TrustAnchorError) as err:
        database_directories(paths)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("os_info, package", [
    (dict(ID="debian"), "libnss3-tools"),
    (dict(ID="linuxmint", ID_LIKE="ubuntu debian"), "libnss3-tools"),
    (dict(ID="rocky", ID_LIKE="rhel centos fedora"), "nss-tools"),
    (dict(ID="fedora"), "nss-tools"),
    (dict(ID="opensuse-leap", ID_LIKE="suse opensuse"), "mozilla-nss-tools"),
    (dict(ID="manjaro", ID_LIKE="arch"), "package nss"),
])
def test_missing_certutil_names_the_package(os_info, package):
    message = certutil_missing_message(os_info)
    assert "certutil was not found" in message and package in message


def test_missing_certutil_on_an_unknown_system_lists_every_package():
    message = certutil_missing_message({})
    for package in ("libnss3-tools", "nss-tools", "mozilla-nss-tools", "nss on Arch"):
        assert package in message


# --- the store against real databases ---------------------------------------------------------

@needs_certutil
def test_missing_database_is_created_on_add(tmp_path, store_at, ours, runner):
    home = tmp_path / "home"
    home.mkdir()
    nssdb = home / ".pki" / "nssdb"
    store = store_at(nssdb)
    assert store.check(LABEL, ours, "absent") is True
    assert store.check(LABEL, ours, "present") is False
    assert runner.calls == []  # nothing to read yet, nothing read
    assert not (home / ".pki").exists()

    assert store.add(LABEL, ours) is True
    assert database_prefix(str(nssdb)) == "sql"
    assert {p.name for p in nssdb.iterdir()} >= {"cert9.db", "key4.db"}
    for directory in (home / ".pki", nssdb):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert listing(str(nssdb)) == {LABEL: ["C,,"]}
    assert fingerprints(str(nssdb), LABEL) == [sha256_hex(ours)]
    assert store.check(LABEL, ours, "present") is True
    assert store.check(LABEL, ours, "absent") is False
    assert [argv[1] for argv in runner.writes()] == ["-N", "-A"]


@needs_certutil
def test_certutil_runs_in_the_c_locale(tmp_path, store_at, ours, runner):
    store_at(tmp_path / "db").add(LABEL, ours)
    assert runner.calls
    assert all(env == {"LC_ALL": "C", "LANGUAGE": "C"} for dummy, env in runner.calls)
    assert all(argv[0] == CERTUTIL for argv, dummy in runner.calls)


@needs_certutil
def test_add_again_changes_nothing(tmp_path, store_at, ours, runner):
    store = store_at(new_db(tmp_path / "db"))
    assert store.add(LABEL, ours) is True
    before = snapshot(str(tmp_path / "db"))
    runner.calls.clear()
    assert store.check(LABEL, ours, "present") is True
    assert store.add(LABEL, ours) is False
    assert runner.writes() == []
    assert snapshot(str(tmp_path / "db")) == before


@needs_certutil
def test_the_pem_temp_file_is_removed(tmp_path, store_at, ours, tmpdir_files):
    store_at(new_db(tmp_path / "db")).add(LABEL, ours)
    assert list(tmpdir_files.iterdir()) == []


@needs_certutil
@pytest.mark.parametrize("stale_name", ["Someone Else CA", "Fleet Root CA"])
def test_a_stale_certificate_under_the_label_is_replaced(tmp_path, store_at, ours, stale_name):
    # A different subject (certutil -A alone would fail) and the same subject with a new key.
    stale = make_ca_der(stale_name)
    db = new_db(tmp_path / "db")
    add_with_certutil(db, LABEL, stale)
    store = store_at(db)
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is False
    assert store.add(LABEL, ours) is True
    assert fingerprints(str(db), LABEL) == [sha256_hex(ours)]
    assert listing(str(db)) == {LABEL: ["C,,"]}


@needs_certutil
@pytest.mark.parametrize("flags", [",,", "c,,", ",C,C", "T,,"])
def test_our_certificate_without_ssl_ca_trust_is_not_current(tmp_path, store_at, ours, flags):
    db = new_db(tmp_path / "db")
    add_with_certutil(db, LABEL, ours, trust=flags)
    store = store_at(db)
    assert store.check(LABEL, ours, "present") is False
    assert store.add(LABEL, ours) is True
    assert listing(str(db)) == {LABEL: ["C,,"]}


@needs_certutil
def test_stronger_trust_set_by_someone_else_counts_as_current(tmp_path, store_at, ours, runner):
    db = new_db(tmp_path / "db")
    add_with_certutil(db, LABEL, ours, trust="CT,C,C")
    assert store_at(db).check(LABEL, ours, "present") is True
    assert store_at(db).add(LABEL, ours) is False
    assert runner.writes() == []


@needs_certutil
def test_remove_deletes_our_certificate_and_nothing_else(tmp_path, store_at, ours, foreign):
    db = new_db(tmp_path / "db")
    add_with_certutil(db, "Someone Else CA", foreign, trust="CT,C,C")
    store = store_at(db)
    store.add(LABEL, ours)
    assert listing(str(db)) == {"Someone Else CA": ["CT,C,C"], LABEL: ["C,,"]}
    assert store.remove(LABEL, ours) is True
    assert listing(str(db)) == {"Someone Else CA": ["CT,C,C"]}
    assert fingerprints(str(db), "Someone Else CA") == [sha256_hex(foreign)]
    assert store.check(LABEL, ours, "absent") is True


@needs_certutil
def test_remove_when_absent_is_a_no_op(tmp_path, store_at, ours, foreign, runner):
    db = new_db(tmp_path / "db")
    add_with_certutil(db, "Someone Else CA", foreign)
    before = snapshot(str(db))
    store = store_at(db)
    assert store.check(LABEL, ours, "absent") is True
    assert store.remove(LABEL, ours) is False
    assert runner.writes() == []
    assert snapshot(str(db)) == before


@needs_certutil
def test_remove_from_a_missing_database_creates_nothing(tmp_path, store_at, ours, runner):
    store = store_at(tmp_path / "home" / ".pki" / "nssdb")
    assert store.check(LABEL, ours, "absent") is True
    assert store.remove(LABEL, ours) is False
    assert runner.calls == []
    assert not (tmp_path / "home").exists()


@needs_certutil
def test_remove_deletes_every_certificate_under_the_label(tmp_path, store_at, ours, ours_recreated):
    # NSS keeps both certificates of one subject under one nickname.
    db = new_db(tmp_path / "db")
    add_with_certutil(db, LABEL, ours)
    add_with_certutil(db, LABEL, ours_recreated)
    assert listing(str(db)) == {LABEL: ["C,,", "C,,"]}
    assert store_at(db).remove(LABEL, ours) is True
    assert listing(str(db)) == {}


@needs_certutil
def test_rollover_with_the_same_subject_keeps_both_labels_apart(tmp_path, store_at, ours, ours_recreated):
    old_label, new_label = "Fleet_Root_CA-aaaaaaaaaaaaaaaa", "Fleet_Root_CA-bbbbbbbbbbbbbbbb"
    db = new_db(tmp_path / "db")
    store = store_at(db)
    assert store.add(old_label, ours) is True
    assert store.add(new_label, ours_recreated) is True
    assert listing(str(db)) == {old_label: ["C,,"], new_label: ["C,,"]}
    assert store.remove(old_label, ours) is True
    assert listing(str(db)) == {new_label: ["C,,"]}
    assert store.check(new_label, ours_recreated, "present") is True


@needs_certutil
def test_other_certificates_are_untouched_by_add(tmp_path, store_at, ours, foreign):
    db = new_db(tmp_path / "db")
    add_with_certutil(db, "Someone Else CA", foreign, trust=",,")
    store_at(db).add(LABEL, ours)
    assert listing(str(db))["Someone Else CA"] == [",,"]
    assert fingerprints(str(db), "Someone Else CA") == [sha256_hex(foreign)]


@needs_certutil
def test_certutil_add_of_a_certificate_under_another_nickname_rewrites_its_trust(tmp_path, ours):
    # The NSS behaviour the store guards against: exit 0, nothing added, the other entry changed.
    db = new_db(tmp_path / "db")
    add_with_certutil(db, "imported by hand", ours, trust="CT,,")
    add_with_certutil(db, LABEL, ours, trust="C,,")
    assert listing(str(db)) == {"imported by hand": ["C,,"]}


@needs_certutil
def test_the_same_certificate_under_another_nickname_fails_naming_it(tmp_path, store_at, ours, runner):
    db = new_db(tmp_path / "db")
    add_with_certutil(db, "Fleet Root CA (imported by hand)", ours, trust="CT,,")
    before = snapshot(str(db))
    with pytest.raises(TrustAnchorError) as err:
        store_at(db).add(LABEL, ours)
    message = str(err.value)
    assert "'Fleet Root CA (imported by hand)'" in message and repr(LABEL) in message
    assert "sql:%s" % db in message
    # Refused before any write: the other entry keeps its trust flags.
    assert runner.writes() == []
    assert listing(str(db)) == {"Fleet Root CA (imported by hand)": ["CT,,"]}
    assert snapshot(str(db)) == before


@needs_certutil
def test_a_label_that_lost_its_trust_next_to_a_same_subject_sibling_is_repaired(tmp_path, store_at, ours,
                                                                                ours_recreated):
    # The lookup of our label also returns the sibling's certificate; that must not look like a conflict.
    db = new_db(tmp_path / "db")
    add_with_certutil(db, "Fleet_Root_CA-aaaaaaaaaaaaaaaa", ours_recreated)
    add_with_certutil(db, LABEL, ours, trust="c,,")
    assert store_at(db).add(LABEL, ours) is True
    assert listing(str(db)) == {"Fleet_Root_CA-aaaaaaaaaaaaaaaa": ["C,,"], LABEL: ["C,,"]}
    assert fingerprints(str(db), LABEL) == sorted([sha256_hex(ours), sha256_hex(ours_recreated)])


@needs_certutil
def test_legacy_dbm_database_is_used_as_dbm(tmp_path, store_at, ours, runner):
    db = str(tmp_path / "legacy")
    try:
        new_db(db, prefix="dbm")
    except subprocess.CalledProcessError as exc:
        pytest.skip("this NSS cannot create a legacy cert8.db: %s" % exc.stderr.strip())
    if not os.path.exists(os.path.join(db, "cert8.db")):
        pytest.skip("this NSS cannot create a legacy cert8.db")
    store = store_at(db)
    assert database_prefix(db) == "dbm"
    assert store.database == "dbm:" + db
    assert store.add(LABEL, ours) is True
    assert all("dbm:" + db in argv for argv, dummy in runner.calls)
    assert not os.path.exists(os.path.join(db, "cert9.db"))  # not migrated behind the user's back
    assert listing(db, prefix="dbm") == {LABEL: ["C,,"]}
    assert store.add(LABEL, ours) is False
    assert store.remove(LABEL, ours) is True
    assert listing(db, prefix="dbm") == {}


@needs_certutil
def test_cert9_wins_over_cert8(tmp_path):
    db = tmp_path / "both"
    db.mkdir()
    (db / "cert8.db").write_bytes(b"")
    assert database_prefix(str(db)) == "dbm"
    (db / "cert9.db").write_bytes(b"")
    assert database_prefix(str(db)) == "sql"
    assert database_prefix(str(tmp_path / "none")) is None


@needs_certutil
def test_check_writes_nothing(tmp_path, store_at, ours, foreign, runner):
    db = new_db(tmp_path / "db")
    add_with_certutil(db, LABEL, foreign)
    before = snapshot(str(tmp_path))
    store = store_at(db)
    for state in ("present", "absent"):
        store.check(LABEL, ours, state)
    assert runner.writes() == []
    assert snapshot(str(tmp_path)) == before


@needs_certutil
def test_a_broken_database_fails_with_certutils_message(tmp_path, store_at, ours):
    db = tmp_path / "broken"
    db.mkdir()
    (db / "cert9.db").write_bytes(b"not a database")
    with pytest.raises(TrustAnchorError) as err:
        store_at(db).check(LABEL, ours, "present")
    assert "store nss: certutil" in str(err.value) and "sql:%s" % db in str(err.value)


@needs_certutil
def test_a_file_in_place_of_the_directory_is_refused(tmp_path, store_at, ours):
    (tmp_path / "home").write_text("")
    with pytest.raises(TrustAnchorError) as err:
        store_at(tmp_path / "home" / "nssdb").add(LABEL, ours)
    assert "%s is not a directory" % (tmp_path / "home") in str(err.value)


def _nobody():
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


@needs_certutil
@pytest.mark.skipif(os.geteuid() != 0 or _nobody() is None, reason="needs root and the account nobody")
def test_root_hands_new_files_to_the_owner_of_the_home(tmp_path, store_at, ours):
    home = tmp_path / "alice"
    home.mkdir()
    os.chown(home, *_nobody())
    store = store_at(home / ".pki" / "nssdb")
    store.add(LABEL, ours)
    created = [home / ".pki", home / ".pki" / "nssdb"] + list((home / ".pki" / "nssdb").iterdir())
    assert {(p.stat().st_uid, p.stat().st_gid) for p in created} == {_nobody()}
    # Changing an existing database keeps its files as they are.
    store.remove(LABEL, ours)
    assert {(p.stat().st_uid, p.stat().st_gid) for p in (home / ".pki" / "nssdb").iterdir()} == {_nobody()}


# --- the module's handling of several databases ------------------------------------------------

class FakeModule:
    """Just enough of AnsibleModule for trust_anchor.run_module."""

    def __init__(self, params, runner, tmpdir, check_mode=False, diff=True):
        self.params = dict(certificate=None, src=None, label=LABEL, stores=["nss"], state="present",
                           bundle_path=None, nss_databases=None, nss_users=None,
                           firefox_policy_path="/etc/firefox/policies/policies.json")
        self.params.update(params)
        self.run_command = runner
        self.tmpdir = tmpdir
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    @staticmethod
    def get_bin_path(name):
        return shutil.which(name)

    def warn(self, message):
        self.warnings.append(message)

    @staticmethod
    def fail_json(**kwargs):
        raise AssertionError("fail_json: %r" % kwargs)


@needs_certutil
def test_module_check_mode_reports_per_database_and_writes_nothing(tmp_path, runner, tmpdir_files, ours):
    existing = new_db(tmp_path / "existing")
    missing = tmp_path / "home" / ".pki" / "nssdb"
    before = snapshot(str(tmp_path))
    module = FakeModule(dict(certificate=der_to_pem(ours), nss_databases=[str(existing), str(missing)]),
                        runner, str(tmpdir_files), check_mode=True)
    result = trust_anchor.run_module(module)
    assert result["changed"] is True
    assert result["stores"]["nss"] == dict(changed=True, databases=[
        dict(changed=True, path=str(existing)), dict(changed=True, path=str(missing))])
    assert [d["before_header"] for d in result["diff"]] == ["nss: %s" % existing, "nss: %s" % missing]
    assert [d["before"] for d in result["diff"]] == ["absent\n", "absent\n"]
    assert result["diff"][0]["after"] == "present: %s (sha256 %s)\n" % (LABEL, sha256_hex(ours))
    assert runner.writes() == []
    assert snapshot(str(tmp_path)) == before


@needs_certutil
def test_module_changes_only_the_databases_that_need_it(tmp_path, runner, tmpdir_files, ours):
    done, todo = new_db(tmp_path / "done"), new_db(tmp_path / "todo")
    add_with_certutil(done, LABEL, ours)
    module = FakeModule(dict(certificate=der_to_pem(ours), nss_databases=[str(done), str(todo)]),
                        runner, str(tmpdir_files))
    result = trust_anchor.run_module(module)
    assert result["stores"]["nss"]["databases"] == [
        dict(changed=False, path=str(done)), dict(changed=True, path=str(todo))]
    assert listing(str(todo)) == {LABEL: ["C,,"]}
    module.params["state"] = "absent"
    result = trust_anchor.run_module(module)
    assert result["changed"] is True and listing(str(done)) == {} and listing(str(todo)) == {}
    again = trust_anchor.run_module(module)
    assert again["changed"] is False


def test_module_without_certutil_fails_naming_the_package(monkeypatch, tmp_path, ours):
    module = FakeModule(dict(certificate=der_to_pem(ours), nss_databases=[str(tmp_path / "db")]),
                        Runner(), str(tmp_path))
    monkeypatch.setattr(module, "get_bin_path", lambda name: None)
    with pytest.raises(TrustAnchorError) as err:
        trust_anchor.run_module(module)
    assert "certutil was not found" in str(err.value)
    assert not (tmp_path / "db").exists()


# --- users in scope (nss_users) --------------------------------------------------------------

Entry = collections.namedtuple("Entry", "pw_name pw_uid pw_gid pw_dir pw_shell")
ME = os.getuid()


class Passwd:
    """An injected passwd database: getpwnam and getpwall over a list of entries."""

    def __init__(self, *entries):
        self.entries = list(entries)

    def getpwnam(self, name):
        for entry in self.entries:
            if entry.pw_name == name:
                return entry
        raise KeyError(name)

    def getpwall(self):
        return list(self.entries)

    def kwargs(self, uid_range=(1000, 60000)):
        return dict(getpwnam=self.getpwnam, getpwall=self.getpwall, uid_range=uid_range)


def firefox_profile(directory, database="cert9.db"):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, database), "wb") as handle:
        handle.write(b"")
    return os.path.realpath(directory)


def test_login_uid_range_reads_login_defs(tmp_path):
    defs = tmp_path / "login.defs"
    defs.write_text("# comment\nUID_MIN\t\t 500\nUID_MAX 29999\nSYS_UID_MIN 100\n")
    assert login_uid_range(str(defs)) == (500, 29999)
    assert login_uid_range(str(tmp_path / "missing")) == (1000, 60000)


@pytest.mark.parametrize("shell, login", [("/bin/bash", True), ("", True), ("/usr/sbin/nologin", False),
                                          ("/sbin/nologin", False), ("/bin/false", False), ("/usr/bin/zsh", True)])
def test_login_shells(shell, login):
    assert has_login_shell(shell) is login


def test_all_means_login_users_in_the_uid_range(tmp_path):
    passwd = Passwd(
        Entry("root", 0, 0, "/root", "/bin/bash"),
        Entry("daemon", 1, 1, "/usr/sbin", "/usr/sbin/nologin"),
        Entry("alice", 1000, 1000, "/home/alice", "/bin/bash"),
        Entry("svc", 1001, 1001, "/home/svc", "/usr/sbin/nologin"),
        Entry("bob", 1002, 1002, "/home/bob", ""),
        Entry("nobody", 65534, 65534, "/nonexistent", "/usr/sbin/nologin"),
        Entry("alice", 1000, 1000, "/home/alice", "/bin/bash"),  # listed twice (files + sss)
    )
    assert [u[0] for u in users_in_scope(["all"], **passwd.kwargs())] == ["alice", "bob"]
    # Combined with names, which are taken whatever their uid; each user once.
    assert [u[0] for u in users_in_scope(["root", "all", "bob"], **passwd.kwargs())] == ["root", "alice", "bob"]
    assert users_in_scope(["svc"], **passwd.kwargs()) == [("svc", 1001, 1001, "/home/svc")]


@pytest.mark.parametrize("names, words", [
    (["mallory"], "there is no user 'mallory'"),
    ([], "nss_users is empty"),
    ([""], "nss_users entry '' is not a user name"),
    ([" alice"], "nss_users entry ' alice' is not a user name"),
])
def test_bad_user_names_are_refused_by_name(names, words):
    passwd = Passwd(Entry("alice", 1000, 1000, "/home/alice", "/bin/bash"))
    with pytest.raises(TrustAnchorError) as err:
        users_in_scope(names, **passwd.kwargs())
    assert words in str(err.value)


def test_nss_places_of_a_user(tmp_path):
    home = tmp_path / "alice"
    classic = firefox_profile(str(home / ".mozilla" / "firefox" / "a.default-release"))
    legacy = firefox_profile(str(home / ".mozilla" / "firefox" / "old.default"), database="cert8.db")
    snap_ff = firefox_profile(str(home / "snap" / "firefox" / "common" / ".mozilla" / "firefox" / "s.default"))
    (home / "snap" / "chromium" / "2345").mkdir(parents=True)
    os.symlink("2345", str(home / "snap" / "chromium" / "current"))
    passwd = Passwd(Entry("alice", ME, ME, str(home), "/bin/bash"))
    places, warnings = nss_places(None, ["alice"], **passwd.kwargs())
    assert places == [str(home / ".pki" / "nssdb"), str(home / "snap" / "chromium" / "current" / ".pki" / "nssdb")] \
        + sorted([classic, legacy, snap_ff])
    assert warnings == []
    # Nothing was created while looking.
    assert not (home / ".pki").exists() and not (home / "snap" / "chromium" / "2345" / ".pki").exists()


def test_snap_chromium_only_when_the_snap_ran(tmp_path):
    home = tmp_path / "alice"
    (home / "snap" / "chromium").mkdir(parents=True)  # no "current" link yet: creating it would break snapd
    passwd = Passwd(Entry("alice", ME, ME, str(home), "/bin/bash"))
    assert nss_places(None, ["alice"], **passwd.kwargs()) == ([str(home / ".pki" / "nssdb")], [])


def test_nss_places_union_with_databases_deduplicated_by_real_path(tmp_path):
    home = tmp_path / "alice"
    profile = firefox_profile(str(home / ".mozilla" / "firefox" / "a.default"))
    explicit = tmp_path / "kiosk" / ".pki" / "nssdb"
    os.makedirs(str(tmp_path / "links"))
    os.symlink(str(home), str(tmp_path / "links" / "alice"))
    linked = os.path.join(str(tmp_path / "links" / "alice"), ".mozilla", "firefox", "a.default")
    passwd = Passwd(Entry("alice", ME, ME, str(home), "/bin/bash"), Entry("twin", ME, ME, str(home), "/bin/bash"))
    places, dummy = nss_places([str(explicit), linked], ["alice", "twin"], **passwd.kwargs())
    # nss_databases first; the profile reached through the link and the twin's home only once.
    assert places == [str(explicit), linked, str(home / ".pki" / "nssdb")]
    assert os.path.realpath(linked) == profile


def test_missing_homes_are_skipped_with_a_warning(tmp_path):
    passwd = Passwd(Entry("ghost", 1500, 1500, str(tmp_path / "gone"), "/bin/bash"),
                    Entry("rooted", 1501, 1501, "/", "/bin/bash"))
    places, warnings = nss_places(None, ["all"], **passwd.kwargs())
    assert places == []
    assert len(warnings) == 2 and "ghost" in warnings[0] and str(tmp_path / "gone") in warnings[0]
    assert "rooted" in warnings[1]


def test_a_profile_of_another_owner_is_skipped_with_a_warning(tmp_path):
    home = tmp_path / "alice"
    profile = firefox_profile(str(home / ".mozilla" / "firefox" / "a.default"))
    other = ME + 4242
    passwd = Passwd(Entry("alice", other, other, str(home), "/bin/bash"))
    places, warnings = nss_places(None, ["alice"], **passwd.kwargs())
    assert places == [str(home / ".pki" / "nssdb")]
    assert len(warnings) == 1 and profile in warnings[0] and "alice" in warnings[0]


def test_without_users_the_old_default_stays(tmp_path):
    assert nss_places(None, None, home=str(tmp_path)) == ([str(tmp_path / ".pki" / "nssdb")], [])
    assert nss_places(["/x/db"], None, home=str(tmp_path)) == (["/x/db"], [])


@needs_certutil
def test_module_with_nss_users_reaches_every_profile(monkeypatch, tmp_path, runner, tmpdir_files, ours):
    home = tmp_path / "alice"
    home.mkdir()
    profiles = []
    for relative, prefix in ((".mozilla/firefox/a.default-release", "sql"), ("snap/firefox/common/.mozilla/firefox/s.default", "sql"),
                             (".mozilla/firefox/old.default", "dbm")):
        directory = home / relative
        try:
            new_db(directory, prefix=prefix)
        except subprocess.CalledProcessError:
            continue  # an NSS without dbm support: that case is then not part of this test
        profiles.append(os.path.realpath(str(directory)))
    passwd = Passwd(Entry("alice", ME, ME, str(home), "/bin/bash"))
    monkeypatch.setattr(trust_anchor, "nss_places",
                        lambda paths, users: nss_places(paths, users, **passwd.kwargs()))
    module = FakeModule(dict(certificate=der_to_pem(ours), nss_users=["alice"]), runner, str(tmpdir_files))
    result = trust_anchor.run_module(module)
    chromium = str(home / ".pki" / "nssdb")
    assert result["stores"]["nss"]["databases"] == [dict(changed=True, path=p) for p in [chromium] + sorted(profiles)]
    for directory in [chromium] + profiles:
        prefix = database_prefix(directory)
        assert listing(directory, prefix=prefix) == {LABEL: ["C,,"]}, directory
    assert trust_anchor.run_module(module)["changed"] is False
