# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The java store against the real keytool, on keystores in temporary directories.

Nothing here reads or writes the machine's own keystores: the JDK cacerts is only ever copied.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_java import (
    DEBIAN_KEYSTORE,
    JVM_FLAGS,
    PASSWORD_ENV,
    JavaKeystore,
    alias_of,
    find_keystores,
    jdk_keytool,
    keystore_paths,
    keytool_missing_message,
)
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, der_to_pem, sha256_hex
from ansible_collections.fleet.pki.plugins.modules import trust_anchor

pytest.importorskip("cryptography")
from throwaway_ca import make_ca_der  # noqa: E402


KEYTOOL = shutil.which("keytool")
needs_keytool = pytest.mark.skipif(KEYTOOL is None, reason="keytool is absent (apt-get install default-jre-headless)")
SYSTEM_CACERTS = "/etc/ssl/certs/java/cacerts"

LABEL = "Fleet_Root_CA-0123456789abcdef"
ALIAS = "fleet_root_ca-0123456789abcdef"
# Not the JDK default, so that a leak of the password is easy to spot.
PASSWORD = "s3cret-Store-pass"
JDK_PASSWORD = "changeit"
WRITES = ("-importcert", "-delete")


@pytest.fixture(scope="module")
def ours():
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
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120,
                              env=dict(os.environ, **(environ_update or {})))
        return proc.returncode, proc.stdout, proc.stderr

    def writes(self):
        return [argv for argv, dummy in self.calls if any(w in argv for w in WRITES)]


def keytool(keystore, *args, password=PASSWORD, check=True):
    """keytool for the test's own setup and inspection (password on the command line is fine here)."""
    proc = subprocess.run([KEYTOOL, *JVM_FLAGS, *args, "-keystore", str(keystore), "-storepass", password],
                          capture_output=True,
                          text=True, check=False, timeout=120, env=dict(os.environ, LC_ALL="C", LANGUAGE="C"))
    if check and proc.returncode != 0:
        raise AssertionError("keytool %s: %s %s" % (args, proc.stdout, proc.stderr))
    return proc


def import_with_keytool(keystore, alias, der, directory, password=PASSWORD, storetype=None):
    pem = os.path.join(str(directory), "import-%s.pem" % alias)
    with open(pem, "w") as f:
        f.write(der_to_pem(der))
    extra = ["-storetype", storetype] if storetype else []
    keytool(keystore, "-importcert", "-noprompt", "-alias", alias, "-file", pem, *extra, password=password)
    os.unlink(pem)


def entries(keystore, password=PASSWORD):
    """{alias: (entry type, SHA-256 fingerprint)} straight from keytool -list -v."""
    out = keytool(keystore, "-list", "-v", password=password).stdout
    result = {}
    alias = kind = None
    for line in out.splitlines():
        if line.startswith("Alias name:"):
            alias = line.split(":", 1)[1].strip()
        elif line.startswith("Entry type:"):
            kind = line.split(":", 1)[1].strip()
        elif line.strip().startswith("SHA256:") and alias is not None and alias not in result:
            result[alias] = (kind, line.split(":", 1)[1].strip().replace(":", "").lower())
    return result


def read(path):
    with open(str(path), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def templates(tmp_path_factory, foreign):
    """Keystores made once per module and copied by each test: PKCS12, JKS, and a copy of the JDK cacerts."""
    if KEYTOOL is None:
        pytest.skip("keytool is absent")
    directory = tmp_path_factory.mktemp("keystore_templates")
    made = {}
    for kind in ("PKCS12", "JKS"):
        path = directory / ("trust.%s" % kind.lower())
        import_with_keytool(path, "someone-else", foreign, directory, storetype=kind)
        made[kind] = path
    if os.path.isfile(SYSTEM_CACERTS):
        made["cacerts"] = directory / "cacerts"
        shutil.copyfile(SYSTEM_CACERTS, str(made["cacerts"]))
    return made


@pytest.fixture
def runner():
    return Runner()


@pytest.fixture
def tmpdir_files(tmp_path):
    directory = tmp_path / "moduletmp"
    directory.mkdir()
    return directory


@pytest.fixture
def keystore(tmp_path, templates):
    """A fresh copy of a template keystore: keystore("PKCS12"), keystore("JKS"), keystore("cacerts")."""
    def make(kind="PKCS12"):
        if kind not in templates:
            pytest.skip("%s is missing" % SYSTEM_CACERTS)
        path = tmp_path / ("copy-%s" % kind.lower())
        shutil.copyfile(str(templates[kind]), str(path))
        return path
    return make


@pytest.fixture
def store_at(runner, tmpdir_files):
    def make(path, password=PASSWORD):
        return JavaKeystore(str(path), KEYTOOL, runner, password, tmpdir=str(tmpdir_files))
    return make


def password_of(kind):
    return JDK_PASSWORD if kind == "cacerts" else PASSWORD


# --- names, paths and messages (no keytool needed) ----------------------------------------

def test_alias_is_the_label_in_lower_case():
    assert alias_of(LABEL) == ALIAS


@pytest.mark.parametrize("os_info, package", [
    (dict(ID="debian"), "default-jre-headless"),
    (dict(ID="ubuntu", ID_LIKE="debian"), "openjdk-<version>-jre-headless"),
    (dict(ID="rocky", ID_LIKE="rhel centos fedora"), "java-<version>-openjdk-headless"),
    (dict(ID="opensuse-leap", ID_LIKE="suse opensuse"), "java-<version>-openjdk-headless"),
    (dict(ID="arch"), "jre-openjdk-headless"),
])
def test_missing_keytool_names_the_package(os_info, package):
    message = keytool_missing_message(os_info)
    assert message.startswith("store java: keytool was not found; install the package") and package in message


def test_missing_keytool_on_an_unknown_system_lists_the_families():
    message = keytool_missing_message(dict(ID="plan9"))
    for word in ("default-jre-headless", "Debian/Ubuntu", "RHEL/Fedora", "SUSE", "Arch"):
        assert word in message


def _file(path, content=b"keystore"):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "wb") as f:
        f.write(content)
    return str(path)


def _executable(path):
    _file(path, b"#!/bin/sh\nexit 0\n")
    os.chmod(str(path), 0o755)
    return str(path)


@pytest.fixture
def fake_jdks(tmp_path):
    """A fake machine: Debian-style shared cacerts, a vendor JDK, a Java 8 JDK, duplicates and dead ends."""
    root = tmp_path / "fake"
    jvm = root / "usr" / "lib" / "jvm"
    shared = _file(root / "etc" / "ssl" / "certs" / "java" / "cacerts")
    tree = dict(root=root, jvm=str(jvm), shared=shared)
    # Two distribution JDKs whose cacerts link to the shared keystore, one via a directory symlink too.
    for name in ("java-17-openjdk-amd64", "java-21-openjdk-amd64"):
        security = jvm / name / "lib" / "security"
        security.mkdir(parents=True)
        os.symlink(shared, str(security / "cacerts"))
    os.symlink("java-17-openjdk-amd64", str(jvm / "java-1.17.0-openjdk-amd64"))
    tree["jdk21_keytool"] = _executable(jvm / "java-21-openjdk-amd64" / "bin" / "keytool")
    # A Java 8 JDK: the keystore lives below jre/, and so does the JRE's keytool.
    tree["jdk8"] = _file(jvm / "java-8-openjdk-amd64" / "jre" / "lib" / "security" / "cacerts")
    tree["jdk8_keytool"] = _executable(jvm / "java-8-openjdk-amd64" / "jre" / "bin" / "keytool")
    # Dead ends: a JDK without a keystore, a broken link, a plain file in the JVM directory.
    (jvm / "jdk-without-cacerts" / "lib").mkdir(parents=True)
    (jvm / "jdk-broken" / "lib" / "security").mkdir(parents=True)
    os.symlink(str(root / "nowhere"), str(jvm / "jdk-broken" / "lib" / "security" / "cacerts"))
    _file(jvm / ".java-1.17.0-openjdk-amd64.jinfo", b"")
    # A vendor tarball JDK in JAVA_HOME, with its own keystore and keytool.
    tree["java_home"] = str(root / "opt" / "jdk-25")
    tree["vendor"] = _file(root / "opt" / "jdk-25" / "lib" / "security" / "cacerts")
    tree["vendor_keytool"] = _executable(root / "opt" / "jdk-25" / "bin" / "keytool")
    # RHEL: a fixed path that links into a generated directory.
    extracted = _file(root / "etc" / "pki" / "ca-trust" / "extracted" / "java" / "cacerts")
    tree["rhel_link"] = str(root / "etc" / "pki" / "java" / "cacerts")
    os.makedirs(os.path.dirname(tree["rhel_link"]))
    os.symlink(extracted, tree["rhel_link"])
    tree["extracted"] = extracted
    return tree


def test_detection_finds_each_keystore_once_in_order(fake_jdks):
    found = find_keystores(fake_jdks["java_home"], [fake_jdks["jvm"]], [fake_jdks["rhel_link"]])
    assert found == [
        (fake_jdks["vendor"], fake_jdks["vendor_keytool"]),
        # Shared by three JDK entries; java-17 has no keytool in the fake tree, java-21 has.
        (fake_jdks["shared"], fake_jdks["jdk21_keytool"]),
        (fake_jdks["jdk8"], fake_jdks["jdk8_keytool"]),
        (fake_jdks["extracted"], None),
    ]


def test_detection_without_java_home_and_with_missing_directories(fake_jdks):
    found = find_keystores(None, [fake_jdks["jvm"], str(fake_jdks["root"] / "no" / "such" / "dir")], [])
    assert [path for path, dummy in found] == [fake_jdks["shared"], fake_jdks["jdk8"]]


def test_detection_that_finds_nothing_says_what_to_do(tmp_path):
    with pytest.raises(TrustAnchorError) as err:
        find_keystores(str(tmp_path / "jdk"), [str(tmp_path / "jvm")], [str(tmp_path / "pki" / "cacerts")])
    message = str(err.value)
    assert message.startswith("store java: no Java keystore found; give java_keystores")
    assert "$JAVA_HOME/lib/security/cacerts" in message and str(tmp_path / "jvm" / "*" / "lib" / "security") in message


def test_jdk_keytool_only_for_a_keystore_below_a_jdk(fake_jdks):
    assert jdk_keytool(fake_jdks["vendor"]) == fake_jdks["vendor_keytool"]
    assert jdk_keytool(fake_jdks["jdk8"]) == fake_jdks["jdk8_keytool"]
    assert jdk_keytool(fake_jdks["extracted"]) is None
    assert jdk_keytool("/srv/app/truststore.p12") is None


def test_explicit_keystores_are_deduplicated_by_real_path(fake_jdks):
    jvm = fake_jdks["jvm"]
    paths = [os.path.join(jvm, "java-17-openjdk-amd64", "lib", "security", "cacerts"),
             fake_jdks["shared"] + "/",
             os.path.join(jvm, "java-21-openjdk-amd64", "lib", "security", "cacerts"),
             fake_jdks["vendor"]]
    assert keystore_paths(paths) == [
        # Reported as first given; java-17 has no keytool in the fake tree, its duplicate java-21 has.
        (paths[0], fake_jdks["jdk21_keytool"]),
        (fake_jdks["vendor"], fake_jdks["vendor_keytool"]),
    ]


@pytest.mark.parametrize("paths, words", [
    ([], ["java_keystores is empty"]),
    (["relative/cacerts"], ["'relative/cacerts'", "absolute"]),
    ([""], ["is not a path"]),
])
def test_bad_keystore_paths_are_refused_by_name(paths, words):
    with pytest.raises(TrustAnchorError) as err:
        keystore_paths(paths)
    for word in words:
        assert word in str(err.value)


def test_a_keystore_rebuilt_by_update_ca_trust_gets_a_warning(monkeypatch, fake_jdks):
    import ansible_collections.fleet.pki.plugins.module_utils._trust_java as trust_java  # pylint: disable=import-outside-toplevel
    prefix = os.path.dirname(os.path.dirname(fake_jdks["extracted"])) + os.sep
    monkeypatch.setattr(trust_java, "GENERATED_KEYSTORES", ((prefix, "update-ca-trust extract"),))
    store = JavaKeystore(fake_jdks["rhel_link"], "keytool", None, PASSWORD)
    assert len(store.warnings) == 1 and "rebuilt by update-ca-trust extract" in store.warnings[0]
    assert fake_jdks["extracted"] in store.warnings[0]
    assert JavaKeystore(fake_jdks["vendor"], "keytool", None, PASSWORD).warnings == []


# --- the real keytool ----------------------------------------------------------------------

@needs_keytool
@pytest.mark.parametrize("kind", ["PKCS12", "JKS", "cacerts"])
def test_add_imports_a_trusted_entry_and_touches_nothing_else(keystore, store_at, ours, kind):
    path = keystore(kind)
    before = entries(path, password_of(kind))
    store = store_at(path, password_of(kind))
    assert store.check(LABEL, ours, "present") is False
    assert store.add(LABEL, ours) is True
    after = entries(path, password_of(kind))
    assert after == dict(before, **{ALIAS: ("trustedCertEntry", sha256_hex(ours))})
    assert len(after) == len(before) + 1
    assert store.check(LABEL, ours, "present") is True


@needs_keytool
def test_a_jks_keystore_stays_jks(keystore, store_at, ours):
    path = keystore("JKS")
    store_at(path).add(LABEL, ours)
    assert read(path)[:4] == b"\xfe\xed\xfe\xed"


@needs_keytool
def test_keytool_runs_in_the_c_locale_with_the_password_only_in_its_environment(keystore, store_at, ours, runner):
    store_at(keystore()).add(LABEL, ours)
    assert runner.calls
    for argv, environ in runner.calls:
        assert environ["LC_ALL"] == "C" and environ["LANGUAGE"] == "C"
        assert environ[PASSWORD_ENV] == PASSWORD
        assert PASSWORD not in " ".join(argv)
        assert argv[argv.index("-storepass:env") + 1] == PASSWORD_ENV
    imports = [argv for argv in runner.writes() if "-importcert" in argv]
    assert len(imports) == 1
    for option in ("-noprompt", "-trustcacerts"):
        assert option in imports[0]
    assert imports[0][imports[0].index("-alias") + 1] == ALIAS


@needs_keytool
def test_add_again_changes_nothing(keystore, store_at, ours, runner):
    path = keystore()
    store_at(path).add(LABEL, ours)
    content = read(path)
    runner.calls.clear()
    store = store_at(path)
    assert store.check(LABEL, ours, "present") is True
    assert store.add(LABEL, ours) is False
    assert runner.writes() == []
    assert read(path) == content


@needs_keytool
def test_the_pem_temp_file_is_removed(keystore, store_at, ours, tmpdir_files):
    store_at(keystore()).add(LABEL, ours)
    assert os.listdir(str(tmpdir_files)) == []


@needs_keytool
@pytest.mark.parametrize("kind", ["PKCS12", "JKS"])
def test_a_stale_certificate_under_the_alias_is_replaced(keystore, store_at, ours, foreign, tmp_path, runner, kind):
    path = keystore(kind)
    stale = make_ca_der("Fleet Root CA")  # a re-created CA under an explicit label
    import_with_keytool(path, ALIAS, stale, tmp_path)
    before = entries(path)
    store = store_at(path)
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is False
    assert store.add(LABEL, ours) is True
    after = entries(path)
    assert after == dict(before, **{ALIAS: ("trustedCertEntry", sha256_hex(ours))})
    assert [next(a for a in argv if a in WRITES) for argv in runner.writes()] == ["-delete", "-importcert"]


@needs_keytool
def test_a_label_in_mixed_case_finds_its_lower_case_alias(keystore, store_at, ours, tmp_path):
    path = keystore()
    import_with_keytool(path, "Fleet_Root_CA-0123456789ABCDEF", ours, tmp_path)
    assert "fleet_root_ca-0123456789abcdef" in entries(path)
    assert store_at(path).check("Fleet_Root_CA-0123456789ABCDEF", ours, "present") is True


@needs_keytool
@pytest.mark.parametrize("kind", ["PKCS12", "cacerts"])
def test_remove_deletes_our_entry_and_nothing_else(keystore, store_at, ours, kind):
    path = keystore(kind)
    original = entries(path, password_of(kind))
    store = store_at(path, password_of(kind))
    store.add(LABEL, ours)
    assert store.check(LABEL, ours, "absent") is False
    assert store.remove(LABEL, ours) is True
    assert entries(path, password_of(kind)) == original
    assert store.check(LABEL, ours, "absent") is True


@needs_keytool
def test_remove_deletes_whatever_certificate_the_alias_holds(keystore, store_at, ours, foreign, tmp_path):
    path = keystore()
    import_with_keytool(path, ALIAS, make_ca_der("Fleet Root CA"), tmp_path)
    assert store_at(path).remove(LABEL, ours) is True
    assert ALIAS not in entries(path)


@needs_keytool
def test_remove_when_absent_is_a_no_op(keystore, store_at, ours, runner):
    path = keystore()
    content = read(path)
    store = store_at(path)
    assert store.check(LABEL, ours, "absent") is True
    assert store.remove(LABEL, ours) is False
    assert runner.writes() == []
    assert read(path) == content


@needs_keytool
def test_a_missing_keystore_is_absent_and_never_created(tmp_path, store_at, ours, runner):
    path = tmp_path / "nowhere" / "cacerts"
    store = store_at(path)
    assert store.check(LABEL, ours, "absent") is True
    assert store.remove(LABEL, ours) is False
    with pytest.raises(TrustAnchorError) as err:
        store.check(LABEL, ours, "present")
    assert str(err.value).startswith("store java: keystore %s does not exist" % path)
    with pytest.raises(TrustAnchorError):
        store.add(LABEL, ours)
    assert runner.calls == [] and not path.parent.exists()


@needs_keytool
@pytest.mark.parametrize("kind", ["PKCS12", "JKS"])
def test_a_wrong_password_names_the_keystore_and_not_the_password(keystore, store_at, ours, runner, kind):
    path = keystore(kind)
    content = read(path)
    wrong = "Wr0ng-pass-%s" % kind
    for state in ("present", "absent"):
        with pytest.raises(TrustAnchorError) as err:
            store_at(path, password=wrong).check(LABEL, ours, state)
        message = str(err.value)
        assert message.startswith("store java: the password of keystore %s is wrong" % path)
        assert "password was incorrect" in message and "java_keystore_password" in message
        assert wrong not in message and PASSWORD not in message
    assert runner.writes() == []
    assert read(path) == content


@needs_keytool
def test_a_german_java_tool_options_changes_nothing(monkeypatch, keystore, store_at, ours):
    # The JVM then prints "Picked up JAVA_TOOL_OPTIONS" on stderr and would speak German.
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-Duser.language=de -Duser.country=DE")
    path = keystore()
    assert store_at(path).add(LABEL, ours) is True
    assert store_at(path).check(LABEL, ours, "present") is True
    with pytest.raises(TrustAnchorError) as err:
        store_at(path, password="Wr0ng-pass").check(LABEL, ours, "present")
    assert "the password of keystore %s is wrong (keytool: java.io.IOException: keystore password was incorrect)" % path \
        in str(err.value)


def test_a_password_echoed_by_keytool_is_masked(tmp_path):
    def echo(argv, environ_update=None):
        return 1, "", "keytool error: something about %s" % environ_update[PASSWORD_ENV]
    path = _file(tmp_path / "ks")
    with pytest.raises(TrustAnchorError) as err:
        JavaKeystore(path, "keytool", echo, PASSWORD).check(LABEL, b"0", "present")
    assert PASSWORD not in str(err.value) and "********" in str(err.value)


@needs_keytool
def test_a_file_that_is_no_keystore_fails_with_keytools_message(tmp_path, store_at, ours):
    path = tmp_path / "cacerts"
    path.write_bytes(b"not a keystore\n")
    with pytest.raises(TrustAnchorError) as err:
        store_at(path).check(LABEL, ours, "present")
    message = str(err.value)
    assert message.startswith("store java: keytool -list -alias %s on %s failed with exit code 1" % (ALIAS, path))
    assert "Unrecognized keystore format" in message


@needs_keytool
def test_owner_and_mode_are_kept(keystore, store_at, ours):
    path = keystore("JKS")
    os.chmod(str(path), 0o640)
    owner = None
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        owner = (nobody.pw_uid, nobody.pw_gid)
        os.chown(str(path), *owner)
    store = store_at(path)
    store.add(LABEL, ours)
    store.remove(LABEL, ours)
    st = os.stat(str(path))
    assert stat.S_IMODE(st.st_mode) == 0o640
    if owner is not None:
        assert (st.st_uid, st.st_gid) == owner


@needs_keytool
def test_owner_and_mode_changed_by_keytool_are_restored(keystore, tmpdir_files, ours):
    path = keystore()
    os.chmod(str(path), 0o644)

    def replacing_runner(argv, environ_update=None):
        # A keytool that writes a new file with its own mode, as some wrappers do.
        result = Runner()(argv, environ_update)
        if "-importcert" in argv:
            os.chmod(str(path), 0o600)
        return result

    assert JavaKeystore(str(path), KEYTOOL, replacing_runner, PASSWORD, tmpdir=str(tmpdir_files)).add(LABEL, ours)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


@needs_keytool
def test_a_silent_keytool_failure_is_detected(keystore, tmpdir_files, ours):
    path = keystore()
    real = Runner()

    def silent(argv, environ_update=None):
        if "-importcert" in argv:
            return 0, "Certificate was added to keystore\n", ""  # but nothing was written
        return real(argv, environ_update)

    with pytest.raises(TrustAnchorError) as err:
        JavaKeystore(str(path), KEYTOOL, silent, PASSWORD, tmpdir=str(tmpdir_files)).add(LABEL, ours)
    assert "keytool -importcert reported success, but alias %s in %s does not hold the CA" % (ALIAS, path) in str(err.value)


def test_the_debian_hook_alias_is_looked_at_only_in_debians_keystore(tmp_path):
    assert JavaKeystore(DEBIAN_KEYSTORE, "keytool", None, PASSWORD).debian_hook is True
    assert JavaKeystore(str(tmp_path / "cacerts"), "keytool", None, PASSWORD).debian_hook is False


@needs_keytool
def test_absent_also_removes_debians_hook_alias_of_our_anchor(keystore, store_at, runner, tmpdir_files, ours, foreign,
                                                              tmp_path):
    # What ca-certificates-java leaves behind after the system store removed <label>.crt.
    path = keystore("JKS")
    hook_alias = "debian:%s.pem" % ALIAS
    import_with_keytool(path, hook_alias, ours, tmp_path)
    import_with_keytool(path, "debian:someone_else.pem", foreign, tmp_path)
    before = entries(path)
    plain = store_at(path)
    assert plain.check(LABEL, ours, "absent") is True  # not Debian's keystore: the hook alias is not ours to judge
    debian = JavaKeystore(str(path), KEYTOOL, runner, PASSWORD, tmpdir=str(tmpdir_files), debian_hook=True)
    assert debian.check(LABEL, ours, "absent") is False
    assert debian.remove(LABEL, ours) is True
    after = entries(path)
    assert hook_alias not in after and after == {a: e for a, e in before.items() if a != hook_alias}
    assert debian.check(LABEL, ours, "absent") is True


@needs_keytool
def test_debians_hook_alias_with_another_certificate_is_left_alone(keystore, runner, tmpdir_files, ours, tmp_path):
    path = keystore("JKS")
    import_with_keytool(path, "debian:%s.pem" % ALIAS, make_ca_der("Fleet Root CA"), tmp_path)
    import_with_keytool(path, ALIAS, ours, tmp_path)
    before = entries(path)
    debian = JavaKeystore(str(path), KEYTOOL, runner, PASSWORD, tmpdir=str(tmpdir_files), debian_hook=True)
    assert debian.remove(LABEL, ours) is True
    assert entries(path) == {a: e for a, e in before.items() if a != ALIAS}


@needs_keytool
def test_a_private_key_under_the_alias_is_never_touched(keystore, store_at, ours, runner):
    path = keystore()
    keytool(path, "-genkeypair", "-alias", ALIAS, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=app",
            "-validity", "1")
    before = entries(path)
    store = store_at(path)
    with pytest.raises(TrustAnchorError) as err:
        store.check(LABEL, ours, "present")
    assert "alias %s in keystore %s is a PrivateKeyEntry, not a trusted certificate" % (ALIAS, path) in str(err.value)
    with pytest.raises(TrustAnchorError):
        store.add(LABEL, ours)
    assert store.check(LABEL, ours, "absent") is True
    assert store.remove(LABEL, ours) is False
    assert store.warnings and "PrivateKeyEntry" in store.warnings[0]
    assert runner.writes() == []
    assert entries(path) == before


# --- the module: several keystores, detection, check mode ----------------------------------

class FakeModule:
    """Just enough of AnsibleModule for trust_anchor.run_module."""

    def __init__(self, params, runner, tmpdir, check_mode=False, diff=True):
        self.params = dict(certificate=None, src=None, label=LABEL, stores=["java"], state="present",
                           bundle_path=None, nss_databases=None, java_keystores=None, java_keystore_password=PASSWORD)
        self.params.update(params)
        self.run_command = runner
        self.tmpdir = tmpdir
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    @staticmethod
    def get_bin_path(name, opt_dirs=None):
        return shutil.which(name, path=os.pathsep.join(list(opt_dirs or []) + [os.environ.get("PATH", "")]))

    def warn(self, message):
        self.warnings.append(message)

    @staticmethod
    def fail_json(**kwargs):
        raise AssertionError("fail_json: %r" % kwargs)


@needs_keytool
def test_module_check_mode_reports_per_keystore_and_writes_nothing(keystore, tmp_path, runner, tmpdir_files, ours):
    pkcs12, jks = keystore("PKCS12"), keystore("JKS")
    contents = (read(pkcs12), read(jks))
    module = FakeModule(dict(certificate=der_to_pem(ours), java_keystores=[str(pkcs12), str(jks)]), runner,
                        str(tmpdir_files), check_mode=True)
    result = trust_anchor.run_module(module)
    assert result["changed"] is True
    assert result["stores"]["java"] == dict(changed=True, keystores=[
        dict(changed=True, path=str(pkcs12)), dict(changed=True, path=str(jks))])
    assert [d["before_header"] for d in result["diff"]] == ["java: %s" % pkcs12, "java: %s" % jks]
    assert [d["before"] for d in result["diff"]] == ["absent\n", "absent\n"]
    assert result["diff"][0]["after"] == "present: %s (sha256 %s)\n" % (LABEL, sha256_hex(ours))
    assert runner.writes() == []
    assert (read(pkcs12), read(jks)) == contents


@needs_keytool
def test_module_changes_only_the_keystores_that_need_it(keystore, tmp_path, runner, tmpdir_files, ours):
    done, todo = keystore("PKCS12"), keystore("JKS")
    import_with_keytool(done, ALIAS, ours, tmp_path)
    module = FakeModule(dict(certificate=der_to_pem(ours), java_keystores=[str(done), str(todo)]), runner,
                        str(tmpdir_files))
    result = trust_anchor.run_module(module)
    assert result["stores"]["java"]["keystores"] == [
        dict(changed=False, path=str(done)), dict(changed=True, path=str(todo))]
    assert ALIAS in entries(todo)
    module.params["state"] = "absent"
    result = trust_anchor.run_module(module)
    assert result["changed"] is True and ALIAS not in entries(done) and ALIAS not in entries(todo)
    again = trust_anchor.run_module(module)
    assert again["changed"] is False


@needs_keytool
def test_module_wrong_password_fails_before_any_store_is_written(keystore, tmp_path, runner, tmpdir_files, ours):
    path = keystore()
    content = read(path)
    bundle = tmp_path / "bundle.pem"
    module = FakeModule(dict(certificate=der_to_pem(ours), stores=["bundle", "java"], bundle_path=str(bundle),
                             java_keystores=[str(path)], java_keystore_password="Not-the-password"),
                        runner, str(tmpdir_files))
    with pytest.raises(TrustAnchorError) as err:
        trust_anchor.run_module(module)
    assert "password of keystore %s is wrong" % path in str(err.value)
    assert "Not-the-password" not in str(err.value)
    assert not bundle.exists()  # the bundle comes first in stores, but is written only after every store was read
    assert read(path) == content


@needs_keytool
def test_module_finds_the_keystores_of_a_fake_jdk_tree(monkeypatch, keystore, tmp_path, runner, tmpdir_files, ours):
    jvm = tmp_path / "jvm"
    shared = keystore("JKS")
    for name in ("jdk-a", "jdk-b"):
        (jvm / name / "lib" / "security").mkdir(parents=True)
        os.symlink(str(shared), str(jvm / name / "lib" / "security" / "cacerts"))
    home = tmp_path / "opt" / "vendor-jdk"
    (home / "lib" / "security").mkdir(parents=True)
    vendor = home / "lib" / "security" / "cacerts"
    shutil.copyfile(str(keystore("PKCS12")), str(vendor))
    monkeypatch.setattr(trust_anchor, "JVM_DIRS", [str(jvm)])
    monkeypatch.setattr(trust_anchor, "FIXED_KEYSTORES", [str(tmp_path / "etc" / "pki" / "java" / "cacerts")])
    monkeypatch.setenv("JAVA_HOME", str(home))
    module = FakeModule(dict(certificate=der_to_pem(ours)), runner, str(tmpdir_files))
    result = trust_anchor.run_module(module)
    assert result["stores"]["java"]["keystores"] == [
        dict(changed=True, path=str(vendor)), dict(changed=True, path=str(shared))]
    assert ALIAS in entries(vendor) and ALIAS in entries(shared)
    assert all(argv[0] == KEYTOOL for argv, dummy in runner.calls)  # the fake JDKs have no keytool of their own


def test_module_with_no_jdk_fails_clearly(monkeypatch, tmp_path, ours):
    monkeypatch.setattr(trust_anchor, "JVM_DIRS", [str(tmp_path / "jvm")])
    monkeypatch.setattr(trust_anchor, "FIXED_KEYSTORES", [])
    monkeypatch.delenv("JAVA_HOME", raising=False)
    module = FakeModule(dict(certificate=der_to_pem(ours)), Runner(), str(tmp_path))
    with pytest.raises(TrustAnchorError) as err:
        trust_anchor.run_module(module)
    assert "no Java keystore found; give java_keystores" in str(err.value)


def test_module_without_keytool_fails_naming_the_package(monkeypatch, tmp_path, ours):
    path = _file(tmp_path / "truststore.p12")
    content = read(path)
    module = FakeModule(dict(certificate=der_to_pem(ours), java_keystores=[path]), Runner(), str(tmp_path))
    monkeypatch.setattr(module, "get_bin_path", lambda name, opt_dirs=None: None)
    with pytest.raises(TrustAnchorError) as err:
        trust_anchor.run_module(module)
    assert "keytool was not found; install" in str(err.value)
    assert read(path) == content
