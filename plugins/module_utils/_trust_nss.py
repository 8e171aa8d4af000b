# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: one NSS database directory (Chrome/Chromium on Linux use ``~/.pki/nssdb``,
every Firefox profile has its own), and which databases the nss store acts on (``nss_places``).

Everything goes through NSS's own ``certutil``; the CA is stored under its label as the nickname,
with the trust flags ``C,,`` (a trusted CA for TLS servers, nothing else).

The NSS facts this relies on (checked with NSS 3.87 on Debian 12):

- NSS stores a certificate once, under one nickname. ``certutil -A`` of a certificate that is
  already there under another nickname returns 0, adds nothing, and overwrites the trust flags of
  that other entry. So that case is detected before ``-A`` and refused, and every add is verified
  by a lookup afterwards.
- ``certutil -A`` under a nickname that holds a certificate with another subject fails, so a
  stale certificate is deleted first.
- ``certutil -L -n <nick> -a`` prints every certificate with the subject of the one found under
  that nickname (a re-created CA with the same name shows up there too); ``-D -n <nick>`` deletes
  one certificate of that nickname.
"""

from __future__ import annotations

import os
import pwd
import tempfile

from ansible_collections.fleet.pki.plugins.module_utils._firefox_profiles import firefox_profiles
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    certificate_ders,
    der_to_pem,
)


# certutil's messages and listing layout are parsed: keep them in English.
C_LOCALE = {"LC_ALL": "C", "LANGUAGE": "C"}
SSL_SERVER_TRUST = "C,,"
NEW_DIR_MODE = 0o700
DEFAULT_DATABASE = os.path.join(".pki", "nssdb")
# The snap Chromium keeps its own database below this link, which snapd makes at the first launch.
SNAP_CHROMIUM = os.path.join("snap", "chromium", "current")

# nss_users: this single name means every login user (see users_in_scope).
ALL_USERS = "all"
LOGIN_DEFS = "/etc/login.defs"
# Used when login.defs does not say (the values of Debian, Ubuntu, RHEL, SUSE and Arch).
DEFAULT_UID_RANGE = (1000, 60000)
# Accounts with one of these shells cannot log in, so they run no browser.
NOLOGIN_SHELLS = ("nologin", "false")

# Files that mark a database directory, newest format first, with the prefix certutil needs.
_FORMATS = (("cert9.db", "sql"), ("cert8.db", "dbm"))
# One nickname can hold several certificates; never loop forever on a database that misbehaves.
_MAX_DELETES = 32
_NOT_FOUND_MARKERS = ("PR_FILE_NOT_FOUND_ERROR", "Could not find cert", "could not find certificate")

# The package that ships certutil, by os-release ID / ID_LIKE.
CERTUTIL_PACKAGES = (
    (("debian", "ubuntu"), "libnss3-tools", "Debian/Ubuntu"),
    (("rhel", "fedora", "centos"), "nss-tools", "RHEL/Fedora"),
    (("suse", "opensuse", "sles"), "mozilla-nss-tools", "SUSE"),
    (("arch",), "nss", "Arch"),
)


def certutil_missing_message(os_info):
    """What to tell the user when certutil is not installed; os_info is the os-release dict."""
    ids = [os_info.get("ID", "").lower()] + os_info.get("ID_LIKE", "").lower().split()
    for family_ids, package, dummy in CERTUTIL_PACKAGES:
        if any(i.startswith(family_ids) for i in ids if i):  # also opensuse-leap, sles_sap, ...
            return "store nss: certutil was not found; install the package %s" % package
    choices = ", ".join("%s on %s" % (package, family) for dummy, package, family in CERTUTIL_PACKAGES)
    return "store nss: certutil was not found; install the package that provides it (%s)" % choices


def default_database(home=None):
    """The NSS database Chrome/Chromium use on Linux: ``$HOME/.pki/nssdb`` (HOME first, as Chromium does)."""
    return os.path.join(home if home is not None else os.path.expanduser("~"), DEFAULT_DATABASE)


def database_directories(paths, home=None):
    """Validated, de-duplicated absolute directories; the default database when paths is None."""
    if paths is None:
        paths = [default_database(home)]
    if not paths:
        raise TrustAnchorError(
            "nss_databases is empty; leave it unset for the default ~/.pki/nssdb, or remove nss from stores"
        )
    directories = []
    for path in paths:
        if not isinstance(path, str) or not path:
            raise TrustAnchorError("nss_databases entry %r is not a path" % (path,))
        if path.startswith(("sql:", "dbm:")):
            raise TrustAnchorError(
                "nss_databases entry %r: give the directory without the %s prefix; "
                "the format is taken from the files in it" % (path, path[:4])
            )
        if not os.path.isabs(path):
            raise TrustAnchorError("nss_databases entry %r must be an absolute path" % (path,))
        path = os.path.normpath(path)
        if path not in directories:
            directories.append(path)
    return directories


def login_uid_range(path=LOGIN_DEFS):
    """(UID_MIN, UID_MAX) of login.defs: the range of ordinary login users."""
    low, high = DEFAULT_UID_RANGE
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    if parts[0] == "UID_MIN":
                        low = int(parts[1])
                    elif parts[0] == "UID_MAX":
                        high = int(parts[1])
    except OSError:
        pass
    return low, high


def has_login_shell(shell):
    """False for nologin and false; an empty shell field means /bin/sh, a login shell."""
    return os.path.basename(shell or "/bin/sh") not in NOLOGIN_SHELLS


def users_in_scope(names, getpwnam=pwd.getpwnam, getpwall=pwd.getpwall, uid_range=None):
    """The passwd entries (name, uid, gid, home) of nss_users, in order, each user once.

    ``all`` stands for every login user of the passwd database: a uid in login.defs' UID_MIN..UID_MAX
    (1000..60000 by default, so root, system accounts and nobody are left out) and a shell that is not
    nologin or false. It can be combined with names (``[all, root]``). A user named explicitly is taken
    whatever uid and shell it has. An unknown name fails, naming it.
    """
    if not names:
        raise TrustAnchorError(
            "nss_users is empty; leave it unset (the default database of the user the module runs as), "
            "give user names, or %s" % ALL_USERS
        )
    entries = []
    for name in names:
        if not isinstance(name, str) or not name or name != name.strip():
            raise TrustAnchorError("nss_users entry %r is not a user name" % (name,))
        if name == ALL_USERS:
            low, high = uid_range or login_uid_range()
            entries.extend(entry for entry in getpwall()
                           if low <= entry.pw_uid <= high and has_login_shell(entry.pw_shell))
            continue
        try:
            entries.append(getpwnam(name))
        except KeyError:
            raise TrustAnchorError("nss_users: there is no user %r on this host" % name) from None
    users = []
    for entry in entries:
        if all(entry.pw_name != user[0] for user in users):
            users.append((entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir))
    return users


def user_databases(user, uid, home):
    """(database directories of one user, warnings): Chromium's, the snap Chromium's, every Firefox profile.

    Chromium's ``~/.pki/nssdb`` is listed even when missing (it is created); the snap one only when the
    snap Chromium ran once; Firefox profiles only when they hold a database and belong to the user, so a
    profiles.ini cannot point the module (often root) at a database of someone else.
    """
    directories = [default_database(home)]
    if os.path.isdir(os.path.join(home, SNAP_CHROMIUM)):
        directories.append(os.path.join(home, SNAP_CHROMIUM, DEFAULT_DATABASE))
    profiles, warnings = firefox_profiles(home)
    for profile in profiles:
        try:
            owner = os.stat(profile).st_uid
        except OSError:
            continue
        if owner != uid:
            warnings.append("Firefox profile %s of user %s belongs to uid %d, not to %s; skipped" % (profile, user, owner, user))
            continue
        directories.append(profile)
    return directories, warnings


def nss_places(paths, users, home=None, **passwd):
    """(database directories of the nss store, warnings) for nss_databases=paths and nss_users=users.

    Neither set: the default database of the module's user. Both set: the union, nss_databases first.
    Each directory is listed once, compared by real path (the snap's ``current`` is a link).
    """
    if users is None:
        return database_directories(paths, home), []
    directories = database_directories(paths) if paths is not None else []
    warnings = []
    for name, uid, dummy, user_home in users_in_scope(users, **passwd):
        if not user_home or not os.path.isabs(user_home) or not os.path.isdir(user_home):
            warnings.append("nss_users: the home directory %r of user %s does not exist; skipped" % (user_home, name))
            continue
        if os.path.normpath(user_home) == os.sep:
            # Accounts "homed" at / would get /.pki: not a user's browser.
            warnings.append("nss_users: user %s has / as home directory; skipped" % name)
            continue
        found, problems = user_databases(name, uid, user_home)
        directories.extend(found)
        warnings.extend(problems)
    unique, seen = [], set()
    for directory in directories:
        real = os.path.realpath(directory)
        if real not in seen:
            seen.add(real)
            unique.append(directory)
    return unique, warnings


def database_prefix(directory):
    """``sql`` or ``dbm`` for an existing database, None when the directory holds none."""
    for filename, prefix in _FORMATS:
        if os.path.isfile(os.path.join(directory, filename)):
            return prefix
    return None


def _nearest_owner(path):
    """(uid, gid) of path, or of its nearest existing parent: new files are owned like that."""
    while True:
        try:
            st = os.stat(path)
            return st.st_uid, st.st_gid
        except FileNotFoundError:
            parent = os.path.dirname(path)
            if parent == path:
                raise
            path = parent


def _entries(directory):
    """{name: inode} of a directory, to spot the files a command created."""
    try:
        return {entry.name: entry.inode() for entry in os.scandir(directory)}
    except FileNotFoundError:
        return {}


def _trust_includes_ssl_ca(flags):
    """True when the SSL part of certutil trust flags (``C,,``, ``CT,C,C``) says trusted CA."""
    return "C" in flags.split(",", 1)[0]


class NssDatabase:
    """One NSS database directory, used through ``certutil``.

    ``run(argv, environ_update=...)`` runs a command and returns ``(rc, stdout, stderr)``, like
    ``AnsibleModule.run_command``. ``tmpdir`` is where the PEM for ``certutil -i`` is written.
    """

    name = "nss"

    def __init__(self, directory, certutil, run, tmpdir=None):
        self.directory = directory
        self.certutil = certutil
        self.run = run
        self.tmpdir = tmpdir
        self.warnings = []

    def location(self, label):
        return self.directory

    @property
    def database(self):
        """The ``-d`` argument: ``sql:`` for cert9.db and new databases, ``dbm:`` for a legacy cert8.db."""
        return "%s:%s" % (database_prefix(self.directory) or "sql", self.directory)

    def exists(self):
        return database_prefix(self.directory) is not None

    # --- reading --------------------------------------------------------------------------

    def _certutil(self, *args):
        return self.run([self.certutil] + list(args), environ_update=dict(C_LOCALE))

    def _failure(self, what, rc, out, err):
        return TrustAnchorError(
            "store nss: certutil %s on %s failed with exit code %s: %s"
            % (what, self.database, rc, (err or out or "").strip() or "no output")
        )

    def lookup(self, label):
        """DERs certutil shows for the nickname label, or None when there is no such nickname."""
        rc, out, err = self._certutil("-L", "-d", self.database, "-n", label, "-a")
        if rc != 0:
            if any(marker in (err or "") + (out or "") for marker in _NOT_FOUND_MARKERS):
                return None
            raise self._failure("-L -n %s" % label, rc, out, err)
        try:
            return certificate_ders(out)
        except TrustAnchorError as exc:
            raise TrustAnchorError("store nss: cannot read the certificate %s in %s: %s" % (label, self.database, exc))

    def listing(self):
        """[(nickname, trust flags)] of ``certutil -L``, in order."""
        rc, out, err = self._certutil("-L", "-d", self.database)
        if rc != 0:
            raise self._failure("-L", rc, out, err)
        entries = []
        for line in out.splitlines():
            # Header lines, then "<nickname padded to 60 columns> <flags>"; flags never contain blanks.
            if not line.strip() or line.startswith(("Certificate Nickname", " ")):
                continue
            parts = line.rstrip().rsplit(None, 1)
            if len(parts) == 2 and parts[1].count(",") == 2:
                entries.append((parts[0], parts[1]))
        return entries

    def is_current(self, label, der):
        """True when the nickname label holds der and is trusted as a CA for TLS servers."""
        ders = self.lookup(label)
        if ders is None or der not in ders:
            return False
        return any(_trust_includes_ssl_ca(flags) for nickname, flags in self.listing() if nickname == label)

    def check(self, label, der, state):
        """True when the database is already in state: present and current, or no such nickname."""
        if not self.exists():
            # Nothing to read; a missing database is created by add().
            return state == "absent"
        if state == "absent":
            return self.lookup(label) is None
        return self.is_current(label, der)

    # --- writing --------------------------------------------------------------------------

    def _write(self, what, *args):
        """Run a certutil command that writes, and give the files it created the owner of the directory."""
        before = _entries(self.directory)
        rc, out, err = self._certutil(*args)
        self._chown_new(before)
        if rc != 0:
            raise self._failure(what, rc, out, err)

    def _chown_new(self, before):
        if os.geteuid() != 0:
            return  # only root can (and needs to) hand files to another user
        uid, gid = _nearest_owner(self.directory)
        if (uid, gid) == (os.geteuid(), os.getegid()):
            return
        for name, inode in _entries(self.directory).items():
            if before.get(name) != inode:
                path = os.path.join(self.directory, name)
                try:
                    os.lchown(path, uid, gid)
                except OSError as exc:
                    raise TrustAnchorError("store nss: cannot hand %s to uid %d: %s" % (path, uid, exc.strerror))

    def _make_directories(self):
        """Create the database directory and missing parents (0700, owned like the nearest existing parent)."""
        missing = []
        path = self.directory
        while not os.path.isdir(path):
            if os.path.lexists(path):
                raise TrustAnchorError("store nss: %s is not a directory" % path)
            missing.append(path)
            path = os.path.dirname(path)
        uid, gid = _nearest_owner(path)
        hand_over = os.geteuid() == 0 and (uid, gid) != (os.geteuid(), os.getegid())
        for directory in reversed(missing):
            try:
                os.mkdir(directory, NEW_DIR_MODE)
                os.chmod(directory, NEW_DIR_MODE)  # mkdir's mode is filtered by the umask
                if hand_over:
                    os.lchown(directory, uid, gid)
            except FileExistsError:
                continue
            except OSError as exc:
                raise TrustAnchorError("store nss: cannot create directory %s: %s" % (directory, exc.strerror))

    def create(self):
        """Create an empty database without a password, as Chromium expects it; True when created."""
        if self.exists():
            return False
        self._make_directories()
        self._write("-N", "-N", "-d", "sql:%s" % self.directory, "--empty-password")
        if not self.exists():
            raise TrustAnchorError("store nss: certutil -N reported success, but %s holds no cert9.db" % self.directory)
        return True

    def _delete_all(self, label):
        """Delete every certificate under the nickname label; the number deleted."""
        for count in range(_MAX_DELETES):
            if self.lookup(label) is None:
                return count
            rc, out, err = self._certutil_delete(label)
            if rc != 0 and self.lookup(label) is not None:
                raise self._failure("-D -n %s" % label, rc, out, err)
        if self.lookup(label) is None:
            return _MAX_DELETES
        raise TrustAnchorError(
            "store nss: %s still holds %s after %d deletions" % (self.database, label, _MAX_DELETES)
        )

    def _certutil_delete(self, label):
        before = _entries(self.directory)
        result = self._certutil("-D", "-d", self.database, "-n", label)
        self._chown_new(before)
        return result

    def add(self, label, der):
        """Make der present and trusted under label; True when anything was done."""
        if self.exists() and self.is_current(label, der):
            return False
        self.create()
        under_label = der in (self.lookup(label) or [])
        if not under_label:
            self._refuse_if_elsewhere(label, der)  # before any change
        # A nickname holding another certificate (or ours without the trust) is cleared first.
        self._delete_all(label)
        if under_label:
            # The lookup also shows certificates of the same subject under other nicknames:
            # only now, with the label gone, is a remaining copy surely someone else's entry.
            self._refuse_if_elsewhere(label, der)
        fd, pem_file = tempfile.mkstemp(dir=self.tmpdir, prefix="fleet-pki-nss-", suffix=".pem")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(der_to_pem(der))
            self._write("-A -n %s" % label, "-A", "-d", self.database, "-t", SSL_SERVER_TRUST, "-n", label, "-i", pem_file)
        finally:
            os.unlink(pem_file)
        # certutil -A can succeed without storing anything: verify.
        if not self.is_current(label, der):
            raise TrustAnchorError(
                "store nss: certutil -A reported success, but %s is not in %s with trust %s afterwards"
                % (label, self.database, SSL_SERVER_TRUST)
            )
        return True

    def remove(self, label, der):
        """Delete every certificate under label (whatever it holds); True when there was one."""
        if not self.exists():
            return False
        return self._delete_all(label) > 0

    def _refuse_if_elsewhere(self, label, der):
        """Fail when der is already stored under another nickname: -A would change that entry's trust."""
        holders = []
        for nickname in dict.fromkeys(nickname for nickname, dummy in self.listing() if nickname != label):
            if der in (self.lookup(nickname) or []):
                holders.append(nickname)
        if holders:
            names = " or ".join(repr(nickname) for nickname in holders)
            raise TrustAnchorError(
                "store nss: the CA is already in %s under the nickname %s; NSS stores a certificate under one "
                "nickname only, so it cannot also be %r; delete that entry first "
                "(certutil -D -d %s -n <nickname>)" % (self.database, names, label, self.database)
            )
