# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: the operating system store.

Only the Debian family (Debian, Ubuntu, Raspberry Pi OS, ...) is implemented: one PEM file
``/usr/local/share/ca-certificates/<label>.crt`` plus ``update-ca-certificates``, which
rebuilds ``/etc/ssl/certs`` (the store OpenSSL, curl and Python read by default).

Every path is taken below ``root`` so that tests can point the backend at a temp directory.
"""

from __future__ import annotations

import errno
import os
import shlex

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    der_to_pem,
    pem_blocks,
    pem_body_to_der,
)


SUPPORTED_FAMILIES = "Debian family (Debian, Ubuntu, Raspberry Pi OS and other distributions with ID_LIKE=debian)"
_DEBIAN_IDS = ("debian", "ubuntu")
_OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
_SBIN_DIRS = ("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin")

ANCHOR_MODE = 0o644


def read_os_release(root="/"):
    """Key/value pairs of os-release below root; empty dict when there is none."""
    for relative in _OS_RELEASE:
        try:
            with open(os.path.join(root, relative)) as f:
                text = f.read()
        except IOError:
            continue
        info = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            try:
                words = shlex.split(value)
            except ValueError:
                words = [value]
            info[key] = " ".join(words)
        return info
    return {}


def is_debian_family(info):
    ids = [info.get("ID", "").lower()] + info.get("ID_LIKE", "").lower().split()
    return any(i in _DEBIAN_IDS for i in ids)


def _describe_os(info):
    if not info:
        return "an operating system without /etc/os-release"
    name = info.get("PRETTY_NAME") or info.get("NAME") or info.get("ID") or "unknown"
    like = info.get("ID_LIKE")
    return "%s (ID=%s%s)" % (name, info.get("ID", "?"), ", ID_LIKE=%s" % like if like else "")


def _find_program(root, name):
    dirs = [os.path.join(root, d) for d in _SBIN_DIRS]
    if os.path.realpath(root) == "/":
        dirs = os.environ.get("PATH", "").split(os.pathsep) + dirs
    for directory in dirs:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def detect_system_store(run, root="/", refresh_command=None):
    """The system store backend for this host, or TrustAnchorError saying why there is none.

    ``run(argv)`` runs a command and returns ``(rc, stdout, stderr)``, like
    ``AnsibleModule.run_command``.

    Detection goes by os-release and then checks that the anchor directory and the refresh
    command really exist (a trimmed image may lack the ca-certificates package).
    """
    info = read_os_release(root)
    if not is_debian_family(info):
        raise TrustAnchorError(
            "store system is not supported on %s yet; supported now: %s" % (_describe_os(info), SUPPORTED_FAMILIES)
        )
    store = DebianSystemStore(run, root=root, refresh_command=refresh_command)
    if not os.path.isdir(store.anchor_dir):
        raise TrustAnchorError(
            "store system: %s is missing on %s; install the ca-certificates package" % (store.anchor_dir, _describe_os(info))
        )
    if store.refresh_command is None:
        raise TrustAnchorError(
            "store system: update-ca-certificates was not found on %s; install the ca-certificates package" % _describe_os(info)
        )
    return store


class DebianSystemStore:
    """``/usr/local/share/ca-certificates/<label>.crt`` + ``update-ca-certificates``."""

    name = "system"
    ANCHOR_DIR = "usr/local/share/ca-certificates"
    EXTRACTED_BUNDLE = "etc/ssl/certs/ca-certificates.crt"

    def __init__(self, run, root="/", refresh_command=None):
        self.run = run
        self.root = root
        self.anchor_dir = os.path.join(root, self.ANCHOR_DIR)
        self.extracted_bundle = os.path.join(root, self.EXTRACTED_BUNDLE)
        if refresh_command is None:
            program = _find_program(root, "update-ca-certificates")
            refresh_command = [program] if program else None
        self.refresh_command = refresh_command
        # Things the user should know that are not errors (the module turns them into warnings).
        self.warnings = []

    def location(self, label):
        # The file name must end in .crt, or update-ca-certificates ignores it.
        return os.path.join(self.anchor_dir, label + ".crt")

    def _anchor_content(self, label):
        try:
            with open(self.location(label), "rb") as f:
                return f.read()
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise TrustAnchorError("store system: cannot read %s: %s" % (self.location(label), exc))

    def in_extracted_bundle(self, der):
        """True when der is in ca-certificates.crt, the file OpenSSL and curl actually read."""
        try:
            with open(self.extracted_bundle) as f:
                text = f.read()
        except IOError:
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
                % (" ".join(self.refresh_command), self.extracted_bundle)
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
        if self.in_extracted_bundle(der):
            self.warnings.append(
                "store system: %s was removed, but the CA is still trusted through another file "
                "(check %s and /etc/ca-certificates.conf)" % (self.location(label), self.anchor_dir)
            )
        return True

    def refresh(self):
        rc, out, err = self.run(self.refresh_command)
        if rc != 0:
            raise TrustAnchorError(
                "store system: %s failed with exit code %s: %s"
                % (" ".join(self.refresh_command), rc, (err or out or "").strip())
            )
