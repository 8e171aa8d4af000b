# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: one Java keystore file (a JDK's ``cacerts`` or an application truststore).

Everything goes through the JDK's own ``keytool``; the CA is a trusted certificate entry whose
alias is the label in lower case (keytool aliases are case-insensitive and stored lower-case).

The keytool facts this relies on (checked with OpenJDK 17 and Temurin 25 on Debian 12):

- ``-importcert`` under an alias that already exists fails (exit 1, "Certificate not imported,
  alias <x> already exists"), so a stale certificate under our alias is deleted first.
- ``-list -rfc -alias <x>`` prints ``Entry type: trustedCertEntry`` (or ``PrivateKeyEntry``) and
  the certificate as PEM; a missing alias gives exit 1 and ``Alias <x> does not exist``.
- A wrong password gives exit 1 and "keystore password was incorrect" (PKCS12) or "Keystore was
  tampered with, or password was incorrect" (JKS).
- keytool rewrites the keystore in place and keeps its type (JKS stays JKS); it does not check
  that a write really happened, so every change is verified by listing the alias again.
- The password goes through ``-storepass:env``: never on the command line, where ``ps`` shows it.

Debian (checked with ca-certificates 20230311+deb12u1 and ca-certificates-java 20230710~deb12u1):
the ``ca-certificates-java`` hook imports every new anchor of the system store into
``/etc/ssl/certs/java/cacerts`` as ``debian:<label>.pem``, but ``update-ca-certificates`` never
tells the hook that a file of ``/usr/local/share/ca-certificates`` was removed (not even with
``--fresh``), so that alias outlives the system store's anchor. Removing the CA from that
keystore therefore also removes ``debian:<label>.pem`` when it holds our certificate.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    certificate_ders,
    der_to_pem,
)


# keytool's messages are parsed: keep them in English. The JVM takes its language from the locale,
# unless JAVA_TOOL_OPTIONS sets user.language; the -J options below win over both.
C_LOCALE = {"LC_ALL": "C", "LANGUAGE": "C"}
PASSWORD_ENV = "FLEET_PKI_KEYTOOL_STOREPASS"
# keytool is a short-lived JVM: the client compiler and the serial GC halve its start-up time.
# A JVM that does not know a flag ignores it instead of refusing to start.
JVM_FLAGS = ("-J-XX:+IgnoreUnrecognizedVMOptions", "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC",
             "-J-Duser.language=en", "-J-Duser.country=US")
TRUSTED_CERT_ENTRY = "trustedCertEntry"
MASK = "********"

# Where a JDK keeps its keystore, below the JDK (or, for Java 8, below the JDK and its jre/).
KEYSTORE_IN_JDK = ("lib", "security", "cacerts")
_JAVA8_JRE = "jre"
_WRONG_PASSWORD_MARKERS = ("password was incorrect",)
_KEYTOOL_ERROR = "keytool error: "

# Keystores that a system tool rebuilds from the OS store: entries added by keytool do not last there.
GENERATED_KEYSTORES = (("/etc/pki/ca-trust/extracted/", "update-ca-trust extract"),)
# Debian's keystore for the distribution's JVMs, and the alias its ca-certificates-java hook gives a
# system store anchor <label>.crt.
DEBIAN_KEYSTORE = "/etc/ssl/certs/java/cacerts"
DEBIAN_HOOK_ALIAS = "debian:%s.pem"

# The package that ships keytool, by os-release ID / ID_LIKE.
KEYTOOL_PACKAGES = (
    (("debian", "ubuntu"), "default-jre-headless (or an openjdk-<version>-jre-headless)", "Debian/Ubuntu"),
    (("rhel", "fedora", "centos"), "java-<version>-openjdk-headless", "RHEL/Fedora"),
    (("suse", "opensuse", "sles"), "java-<version>-openjdk-headless", "SUSE"),
    (("arch",), "jre-openjdk-headless", "Arch"),
)


def keytool_missing_message(os_info):
    """What to tell the user when keytool is not installed; os_info is the os-release dict."""
    ids = [os_info.get("ID", "").lower()] + os_info.get("ID_LIKE", "").lower().split()
    for family_ids, package, dummy in KEYTOOL_PACKAGES:
        if any(i.startswith(family_ids) for i in ids if i):
            return "store java: keytool was not found; install the package %s" % package
    choices = ", ".join("%s on %s" % (package, family) for dummy, package, family in KEYTOOL_PACKAGES)
    return "store java: keytool was not found; install a Java runtime that provides it (%s)" % choices


def alias_of(label):
    """The keytool alias of a label: keytool stores aliases in lower case."""
    return label.lower()


def jdk_keytool(keystore):
    """The keytool of the JDK a keystore path belongs to (``<jdk>/lib/security/cacerts``), or None."""
    parts = os.path.normpath(keystore).split(os.sep)
    if tuple(parts[-3:]) != KEYSTORE_IN_JDK:
        return None
    candidate = os.path.join(os.sep.join(parts[:-3]) or os.sep, "bin", "keytool")
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None


def _keystores_of_jdk(home):
    """Where the JDK at home may keep its keystore: JDK 9+ first, then Java 8's jre/."""
    return [os.path.join(home, *KEYSTORE_IN_JDK), os.path.join(home, _JAVA8_JRE, *KEYSTORE_IN_JDK)]


def _jdk_homes(jvm_dir):
    try:
        names = sorted(os.listdir(jvm_dir))
    except OSError:
        return []
    return [os.path.join(jvm_dir, name) for name in names if os.path.isdir(os.path.join(jvm_dir, name))]


def _dedupe(candidates):
    """[(real path, keytool)] of the candidates that are files, once per real path, first seen first.

    A keystore shared by several JDKs (Debian links them all to /etc/ssl/certs/java/cacerts) is
    used once, with the keytool of the first of those JDKs that has one.
    """
    found = {}
    for path in candidates:
        real = os.path.realpath(path)
        if not os.path.isfile(real):
            continue
        if real not in found or found[real] is None:
            found[real] = jdk_keytool(path) or jdk_keytool(real)
    return list(found.items())


def find_keystores(java_home, jvm_dirs, fixed_keystores):
    """[(keystore path, keytool of its JDK or None)] of the JDKs found, deduplicated by real path.

    Looked at, in this order: ``<java_home>/lib/security/cacerts`` (and ``jre/...`` for Java 8),
    the same below every directory in each of jvm_dirs (``/usr/lib/jvm/*``), then fixed_keystores
    (``/etc/pki/java/cacerts`` on RHEL). Symbolic links are resolved; the real path is reported.
    """
    candidates = []
    if java_home:
        candidates.extend(_keystores_of_jdk(java_home))
    for jvm_dir in jvm_dirs:
        for home in _jdk_homes(jvm_dir):
            candidates.extend(_keystores_of_jdk(home))
    candidates.extend(fixed_keystores)
    found = _dedupe(candidates)
    if not found:
        places = (["$JAVA_HOME/lib/security/cacerts"] if java_home else []) + [
            os.path.join(d, "*", *KEYSTORE_IN_JDK) for d in jvm_dirs
        ] + [os.path.join(d, "*", _JAVA8_JRE, *KEYSTORE_IN_JDK) for d in jvm_dirs] + list(fixed_keystores)
        raise TrustAnchorError(
            "store java: no Java keystore found; give java_keystores (looked at %s)" % ", ".join(places)
        )
    return found


def keystore_paths(paths):
    """[(path, keytool of its JDK or None)] for explicit java_keystores: absolute, deduplicated by real path."""
    if not paths:
        raise TrustAnchorError(
            "java_keystores is empty; leave it unset to use the keystores of the JDKs found, or remove java from stores"
        )
    found = {}  # real path -> [path as given first, keytool]
    for path in paths:
        if not isinstance(path, str) or not path:
            raise TrustAnchorError("java_keystores entry %r is not a path" % (path,))
        if not os.path.isabs(path):
            raise TrustAnchorError("java_keystores entry %r must be an absolute path" % (path,))
        path = os.path.normpath(path)
        place = found.setdefault(os.path.realpath(path), [path, None])
        place[1] = place[1] or jdk_keytool(path) or jdk_keytool(os.path.realpath(path))
    return [tuple(place) for place in found.values()]


class JavaKeystore:
    """One keystore file (JKS or PKCS12, keytool tells them apart), used through ``keytool``.

    ``run(argv, environ_update=...)`` runs a command and returns ``(rc, stdout, stderr)``, like
    ``AnsibleModule.run_command``. ``tmpdir`` is where the PEM for ``-importcert`` is written.
    The password only ever travels in the environment of keytool, and never into a message.
    """

    name = "java"

    def __init__(self, path, keytool, run, password, tmpdir=None, debian_hook=None):
        self.path = path
        self.keytool = keytool
        self.run = run
        self.password = password
        self.tmpdir = tmpdir
        self.warnings = []
        self._entries = {}  # alias -> entry, read once until the next write
        if debian_hook is None:
            debian_hook = os.path.realpath(path) == DEBIAN_KEYSTORE
        self.debian_hook = debian_hook
        self._note_generated()

    def location(self, label):
        return self.path

    def exists(self):
        return os.path.isfile(self.path)

    def _note_generated(self):
        real = os.path.realpath(self.path)
        for prefix, tool in GENERATED_KEYSTORES:
            if real.startswith(prefix):
                self._warn(
                    "store java: %s is rebuilt by %s, which drops entries added with keytool; "
                    "trust the CA through the operating system store there instead" % (real, tool)
                )

    # --- running keytool ------------------------------------------------------------------

    def _scrub(self, text):
        text = (text or "").strip()
        return text.replace(self.password, MASK) if self.password else text

    def _keytool(self, *args):
        argv = [self.keytool] + list(JVM_FLAGS) + list(args) + ["-keystore", self.path, "-storepass:env", PASSWORD_ENV]
        environ = dict(C_LOCALE)
        environ[PASSWORD_ENV] = self.password
        return self.run(argv, environ_update=environ)

    def _failure(self, what, rc, out, err):
        # keytool prints its errors on stdout; the JVM's own notes go to stderr.
        output = self._scrub("\n".join(text.strip() for text in (out, err) if text and text.strip())) or "no output"
        wrong = [line for line in output.splitlines() if any(marker in line for marker in _WRONG_PASSWORD_MARKERS)]
        if wrong:
            detail = wrong[0].strip()
            if detail.startswith(_KEYTOOL_ERROR):
                detail = detail[len(_KEYTOOL_ERROR):]
            return TrustAnchorError(
                "store java: the password of keystore %s is wrong (keytool: %s); set java_keystore_password "
                "(or the host variable fleet_pki_java_keystore_password)" % (self.path, detail)
            )
        return TrustAnchorError(
            "store java: keytool %s on %s failed with exit code %s: %s" % (what, self.path, rc, output)
        )

    @staticmethod
    def _alias_missing(alias, out, err):
        return ("Alias <%s> does not exist" % alias) in (out or "") + (err or "")

    # --- reading --------------------------------------------------------------------------

    def entry(self, alias):
        """(entry type, [DER]) of the alias, or None when the keystore has no such alias."""
        if alias not in self._entries:
            rc, out, err = self._keytool("-list", "-rfc", "-alias", alias)
            if rc != 0:
                if not self._alias_missing(alias, out, err):
                    raise self._failure("-list -alias %s" % alias, rc, out, err)
                self._entries[alias] = None
            else:
                kind = None
                for line in out.splitlines():
                    if line.startswith("Entry type:"):
                        kind = line.split(":", 1)[1].strip()
                        break
                try:
                    ders = certificate_ders(out)
                except TrustAnchorError as exc:
                    raise TrustAnchorError("store java: cannot read alias %s in %s: %s" % (alias, self.path, exc))
                self._entries[alias] = (kind, ders)
        return self._entries[alias]

    def is_current(self, alias, der):
        """True when alias is a trusted certificate entry holding der."""
        entry = self.entry(alias)
        return entry is not None and entry[0] == TRUSTED_CERT_ENTRY and entry[1] == [der]

    def _refuse_key_entry(self, alias):
        """Fail when alias holds a key: deleting it would destroy someone's private key."""
        entry = self.entry(alias)
        if entry is not None and entry[0] != TRUSTED_CERT_ENTRY:
            raise TrustAnchorError(
                "store java: alias %s in keystore %s is a %s, not a trusted certificate; it is left alone; "
                "give the CA another label" % (alias, self.path, entry[0] or "entry of unknown type")
            )

    def check(self, label, der, state):
        """True when the keystore is already in state: present and current, or no trusted entry under the alias.

        Fails (before anything is written) when the keystore cannot be read, the password is
        wrong, the keystore is missing while the CA should be present, or the alias holds a key.
        """
        alias = alias_of(label)
        if state == "absent":
            return not self.exists() or not self._to_delete(label, der)
        self._require_keystore()
        self._refuse_key_entry(alias)
        return self.is_current(alias, der)

    def _to_delete(self, label, der):
        """The aliases that absent removes: ours if it is a trusted certificate, and Debian's hook alias
        of our anchor if it holds our certificate."""
        alias = alias_of(label)
        aliases = []
        entry = self.entry(alias)
        if entry is not None and entry[0] != TRUSTED_CERT_ENTRY:
            self._warn("store java: alias %s in keystore %s is a %s, not a trusted certificate; it is left alone"
                       % (alias, self.path, entry[0] or "entry of unknown type"))
        elif entry is not None:
            aliases.append(alias)
        if self.debian_hook:
            hook_alias = alias_of(DEBIAN_HOOK_ALIAS % label)
            if self.is_current(hook_alias, der):
                aliases.append(hook_alias)
        return aliases

    def _require_keystore(self):
        if not self.exists():
            raise TrustAnchorError(
                "store java: keystore %s does not exist; give the path of an existing keystore "
                "(a JDK's lib/security/cacerts or an application truststore)" % self.path
            )

    def _warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    # --- writing --------------------------------------------------------------------------

    def _write(self, *args):
        """Run a keytool command that rewrites the keystore; keep the file's owner and mode."""
        before = os.stat(self.path)
        self._entries.clear()
        rc, out, err = self._keytool(*args)
        self._restore_owner_and_mode(before)
        return rc, out, err

    def _restore_owner_and_mode(self, before):
        try:
            after = os.stat(self.path)
        except OSError as exc:
            raise TrustAnchorError("store java: keystore %s is gone after keytool: %s" % (self.path, exc.strerror))
        try:
            if (after.st_uid, after.st_gid) != (before.st_uid, before.st_gid):
                os.chown(self.path, before.st_uid, before.st_gid)
            if stat.S_IMODE(after.st_mode) != stat.S_IMODE(before.st_mode):
                os.chmod(self.path, stat.S_IMODE(before.st_mode))
        except OSError as exc:
            raise TrustAnchorError(
                "store java: cannot restore owner %d:%d and mode %04o of %s: %s"
                % (before.st_uid, before.st_gid, stat.S_IMODE(before.st_mode), self.path, exc.strerror)
            )

    def _delete(self, alias):
        rc, out, err = self._write("-delete", "-alias", alias)
        if rc != 0 and not self._alias_missing(alias, out, err):
            raise self._failure("-delete -alias %s" % alias, rc, out, err)

    def add(self, label, der):
        """Make der a trusted certificate entry under the alias; True when anything was done."""
        alias = alias_of(label)
        self._require_keystore()
        self._entries.clear()  # read afresh: another store's hook may have rewritten the file
        self._refuse_key_entry(alias)
        if self.is_current(alias, der):
            return False
        if self.entry(alias) is not None:
            # keytool refuses to import over an existing alias: drop the stale certificate first.
            self._delete(alias)
        fd, pem_file = tempfile.mkstemp(dir=self.tmpdir, prefix="fleet-pki-java-", suffix=".pem")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(der_to_pem(der))
            rc, out, err = self._write("-importcert", "-noprompt", "-trustcacerts", "-alias", alias, "-file", pem_file)
        finally:
            os.unlink(pem_file)
        if rc != 0:
            raise self._failure("-importcert -alias %s" % alias, rc, out, err)
        # keytool can report success without storing anything: verify.
        if not self.is_current(alias, der):
            raise TrustAnchorError(
                "store java: keytool -importcert reported success, but alias %s in %s does not hold the CA afterwards"
                % (alias, self.path)
            )
        return True

    def remove(self, label, der):
        """Delete the trusted certificate entry under the alias (whatever it holds), and Debian's hook alias
        when it holds der; True when there was one."""
        if not self.exists():
            return False
        self._entries.clear()
        aliases = self._to_delete(label, der)
        for alias in aliases:
            self._delete(alias)
            if self.entry(alias) is not None:
                raise TrustAnchorError(
                    "store java: keytool -delete reported success, but alias %s is still in %s" % (alias, self.path)
                )
        return bool(aliases)
