# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: the operating system store, one small class per OS family.

Every family works the same way: one PEM file ``<anchor dir>/<label><suffix>`` plus a refresh
command that rebuilds what OpenSSL, curl and Python actually read (the extracted bundle).
The classes differ only in paths, suffix, refresh command and the package that provides them.
Which class fits a host is decided in ``_trust_system`` (os-release).

Every path is taken below ``root`` so that tests can point the backend at a temp directory.
"""

from __future__ import annotations

import errno
import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    der_to_pem,
    pem_blocks,
    pem_body_to_der,
)


_SBIN_DIRS = ("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin")

ANCHOR_MODE = 0o644
ANCHOR_DIR_MODE = 0o755


def find_program(root, name):
    """Path of an executable below root (and on PATH when root is /), or None."""
    dirs = [os.path.join(root, d) for d in _SBIN_DIRS]
    if os.path.realpath(root) == "/":
        dirs = os.environ.get("PATH", "").split(os.pathsep) + dirs
    for directory in dirs:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _pem_file_has(path, der):
    """True when the PEM file at path holds der (missing or unreadable files hold nothing)."""
    try:
        with open(path) as f:
            text = f.read()
    except (IOError, UnicodeDecodeError):
        return False
    for kind, body in pem_blocks(text):
        if kind != "CERTIFICATE":
            continue
        try:
            if pem_body_to_der(body) == der:
                return True
        except TrustAnchorError:
            continue  # one damaged entry must not hide ours
    return False


class AnchorDirectoryStore:
    """One PEM file per CA in an anchor directory, made effective by a refresh command.

    Subclasses set the class attributes; all paths are relative to root.
    """

    name = "system"
    FAMILY = ""
    ANCHOR_DIR = ""
    # The directory that must exist for the family's tooling to be installed; the anchor
    # directory itself is created when missing.
    REQUIRED_DIR = None
    SUFFIX = ".pem"
    EXTRACTED_BUNDLE = ""
    # Candidates for the refresh command, (program, arguments...); the first program found wins.
    REFRESH = ()
    PACKAGES = "ca-certificates"
    # Where else a CA can come from, for the warning when it is still trusted after removal.
    OTHER_SOURCES = ""

    def __init__(self, run, root="/", refresh_command=None):
        self.run = run
        self.root = root
        self.anchor_dir = os.path.join(root, self.ANCHOR_DIR)
        self.required_dir = os.path.join(root, self.REQUIRED_DIR or self.ANCHOR_DIR)
        self.extracted_bundle = os.path.join(root, self.EXTRACTED_BUNDLE)
        if refresh_command is None:
            refresh_command = self._find_refresh_command()
        self.refresh_command = refresh_command
        # Things the user should know that are not errors (the module turns them into warnings).
        self.warnings = []

    def _find_refresh_command(self):
        for candidate in self.REFRESH:
            program = find_program(self.root, candidate[0])
            if program:
                return [program] + list(candidate[1:])
        return None

    def missing(self, os_name):
        """Why this store cannot work on this host (a message naming os_name), or None."""
        install = "install the %s package%s" % (self.PACKAGES, "s" if " and " in self.PACKAGES else "")
        if not os.path.isdir(self.required_dir):
            return "store system: %s is missing on %s; %s" % (self.required_dir, os_name, install)
        if self.refresh_command is None:
            names = [candidate[0] for candidate in self.REFRESH]
            if len(names) == 1:
                what = "%s was not found" % names[0]
            else:
                what = "neither %s was found" % " nor ".join(names)
            return "store system: %s on %s; %s" % (what, os_name, install)
        return None

    def location(self, label):
        return os.path.join(self.anchor_dir, label + self.SUFFIX)

    def _anchor_content(self, label):
        try:
            with open(self.location(label), "rb") as f:
                return f.read()
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise TrustAnchorError("store system: cannot read %s: %s" % (self.location(label), exc))

    def trusted_copies(self, der):
        """The refresh outputs that hold der: what OpenSSL and curl actually read."""
        return [self.extracted_bundle] if _pem_file_has(self.extracted_bundle, der) else []

    def in_extracted_bundle(self, der):
        return bool(self.trusted_copies(der))

    def extracted_description(self):
        return self.extracted_bundle

    def check(self, label, der, state):
        """True when the store is already in state: present means our file is identical and
        the extracted bundle holds the certificate; absent means our file is gone."""
        content = self._anchor_content(label)
        if state == "absent":
            return content is None
        return content == der_to_pem(der).encode("ascii") and self.in_extracted_bundle(der)

    def add(self, label, der):
        """Write the anchor file if needed and refresh; True when anything was done."""
        wanted = der_to_pem(der).encode("ascii")
        file_changed = self._anchor_content(label) != wanted
        if file_changed:
            try:
                ensure_directory(self.anchor_dir, ANCHOR_DIR_MODE)
                write_file_atomic(self.location(label), wanted, ANCHOR_MODE)
            except FleetPkiError as exc:
                raise TrustAnchorError("store system: %s" % exc)
        if not file_changed and self.in_extracted_bundle(der):
            return False
        self.refresh()
        # Verify the result instead of trusting the exit code alone.
        if not self.in_extracted_bundle(der):
            raise TrustAnchorError(
                "store system: %s ran, but the CA is still missing from %s"
                % (" ".join(self.refresh_command), self.extracted_description())
            )
        return True

    def remove(self, label, der):
        """Delete our anchor file and refresh; True when the file existed."""
        try:
            os.unlink(self.location(label))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise TrustAnchorError("store system: cannot remove %s: %s" % (self.location(label), exc))
        self.refresh()
        copies = self.trusted_copies(der)
        if copies:
            self.warnings.append(self.still_trusted_warning(label, copies))
        return True

    def still_trusted_warning(self, label, copies):
        return (
            "store system: %s was removed, but the CA is still trusted through another file "
            "(it is still in %s; check %s)" % (self.location(label), ", ".join(copies), self.OTHER_SOURCES or self.anchor_dir)
        )

    def refresh(self):
        rc, out, err = self.run(self.refresh_command)
        if rc != 0:
            raise TrustAnchorError(
                "store system: %s failed with exit code %s: %s"
                % (" ".join(self.refresh_command), rc, (err or out or "").strip())
            )


class DebianSystemStore(AnchorDirectoryStore):
    """Debian, Ubuntu, Raspberry Pi OS: ``/usr/local/share/ca-certificates/<label>.crt`` +
    ``update-ca-certificates``, which rebuilds ``/etc/ssl/certs``."""

    FAMILY = "Debian family"
    ANCHOR_DIR = "usr/local/share/ca-certificates"
    # The file name must end in .crt, or update-ca-certificates ignores it.
    SUFFIX = ".crt"
    EXTRACTED_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
    REFRESH = (("update-ca-certificates",),)
    OTHER_SOURCES = "/usr/local/share/ca-certificates and /etc/ca-certificates.conf"


class AlpineSystemStore(DebianSystemStore):
    """Alpine has Debian's layout (its own update-ca-certificates reads the same directories)."""

    FAMILY = "Alpine"
    # ca-certificates-bundle alone has the bundle but not the command.
    PACKAGES = "ca-certificates"


class RhelSystemStore(AnchorDirectoryStore):
    """RHEL, Fedora, CentOS, Rocky, Alma, Amazon Linux, Oracle Linux (p11-kit based)."""

    FAMILY = "RHEL family"
    ANCHOR_DIR = "etc/pki/ca-trust/source/anchors"
    REQUIRED_DIR = "etc/pki/ca-trust/source"
    EXTRACTED_BUNDLE = "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
    REFRESH = (("update-ca-trust", "extract"),)
    OTHER_SOURCES = "/etc/pki/ca-trust/source and /usr/share/pki/ca-trust-source"


class SuseSystemStore(AnchorDirectoryStore):
    """openSUSE and SLES: SUSE's p11-kit based update-ca-certificates writes its outputs to
    /var/lib/ca-certificates (/etc/ssl/ca-bundle.pem and /etc/ssl/certs link there)."""

    FAMILY = "SUSE"
    # /etc/pki/trust/anchors is the admin's place; /usr/share/pki/trust/anchors belongs to packages.
    ANCHOR_DIR = "etc/pki/trust/anchors"
    REQUIRED_DIR = "etc/pki/trust"
    EXTRACTED_BUNDLE = "var/lib/ca-certificates/ca-bundle.pem"
    REFRESH = (("update-ca-certificates",),)
    PACKAGES = "ca-certificates and p11-kit-tools"
    OTHER_SOURCES = "/etc/pki/trust and /usr/share/pki/trust"


class ArchSystemStore(AnchorDirectoryStore):
    """Arch, Manjaro, EndeavourOS: p11-kit reads /etc/ca-certificates/trust-source; the
    refresh writes /etc/ca-certificates/extracted/tls-ca-bundle.pem, which
    /etc/ssl/certs/ca-certificates.crt links to."""

    FAMILY = "Arch family"
    ANCHOR_DIR = "etc/ca-certificates/trust-source/anchors"
    REQUIRED_DIR = "etc/ca-certificates/trust-source"
    SUFFIX = ".crt"
    # The path clients open (a link to the extracted bundle), so a broken link counts as missing.
    EXTRACTED_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
    # trust extract-compat only runs update-ca-trust on Arch; older images lack update-ca-trust.
    REFRESH = (("update-ca-trust", "extract"), ("trust", "extract-compat"))
    PACKAGES = "ca-certificates-utils and p11-kit"
    OTHER_SOURCES = "/etc/ca-certificates/trust-source and /usr/share/ca-certificates/trust-source"


class FreeBsdSystemStore(AnchorDirectoryStore):
    """FreeBSD: ``/usr/local/share/certs/<label>.pem`` + ``certctl rehash``.

    /usr/local/share/certs is on certctl's TRUSTPATH both in the shell certctl (12.2 to 14.x)
    and in the C rewrite (15.0+), which dropped /usr/local/etc/ssl/certs. rehash puts one
    file per CA, named by subject hash, into /etc/ssl/certs (a link before 15.0, a copy
    since); 15.0+ also writes the bundle /etc/ssl/cert.pem. /etc/ssl/certs is what is
    checked, as it exists in every version.
    """

    FAMILY = "FreeBSD"
    ANCHOR_DIR = "usr/local/share/certs"
    REQUIRED_DIR = "etc/ssl"
    HASHED_DIR = "etc/ssl/certs"
    REFRESH = (("certctl", "rehash"),)
    PACKAGES = "FreeBSD base (certctl is part of it since 12.2)"
    OTHER_SOURCES = "/usr/share/certs/trusted and /usr/local/share/certs; certctl before FreeBSD 15.1 keeps " \
                    "a CA it trusted once in /etc/ssl/certs: delete that file and run certctl rehash"

    def missing(self, os_name):
        if self.refresh_command is None:
            return "store system: certctl was not found on %s; it is part of the base system since FreeBSD 12.2" % os_name
        if not os.path.isdir(self.required_dir):
            return "store system: %s is missing on %s" % (self.required_dir, os_name)
        return None

    def trusted_copies(self, der):
        hashed = os.path.join(self.root, self.HASHED_DIR)
        try:
            names = sorted(os.listdir(hashed))
        except OSError:
            return []
        return [os.path.join(hashed, name) for name in names if _pem_file_has(os.path.join(hashed, name), der)]

    def extracted_description(self):
        return os.path.join(self.root, self.HASHED_DIR)
