# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: the Firefox enterprise policy file (``policies.json``) on Linux.

The CA is written as PEM to ``<policy directory>/certificates/<label>.crt`` and that absolute path
is listed in ``policies.Certificates.Install``. At its next start Firefox imports every listed
certificate into the profile it opens (trust ``CT,CT,``), for every user and profile, also profiles
made later. ``/etc/firefox/policies/policies.json`` is read by the deb and the snap Firefox; the
certificate lives below the same directory so that the snap, which sees only part of the host's
file system, can read it too.

Everything else in the file is kept: other policies, other ``Install`` entries, key order. The file
is rewritten (pretty JSON, atomically, with its owner and mode) only when its content changes, and a
file that is not valid JSON, or whose ``Certificates``/``Install`` have another type, is refused.
"""

from __future__ import annotations

import json
import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, der_to_pem


DEFAULT_POLICY_PATH = "/etc/firefox/policies/policies.json"
CERTIFICATE_DIR = "certificates"
NEW_FILE_MODE = 0o644
NEW_DIR_MODE = 0o755


def _owner_and_mode(path):
    """(mode, uid, gid) to keep when replacing path; None for ids that are already ours."""
    st = os.stat(path)
    return (st.st_mode & 0o7777, st.st_uid if st.st_uid != os.geteuid() else None,
            st.st_gid if st.st_gid != os.getegid() else None)


class FirefoxPolicy:
    """``policies.json`` at ``path`` plus our certificate files next to it."""

    name = "firefox_policy"

    def __init__(self, path=DEFAULT_POLICY_PATH):
        if not path or not isinstance(path, str) or not os.path.isabs(path):
            raise TrustAnchorError("store firefox_policy: firefox_policy_path must be an absolute path, got %r" % (path,))
        self.path = path
        # Read and write the link target, so that a symbolic link stays a link.
        self._file = os.path.realpath(path)
        if os.path.isdir(self._file):
            raise TrustAnchorError("store firefox_policy: firefox_policy_path %s is a directory, not a file" % path)
        self.certificate_dir = os.path.join(os.path.dirname(path), CERTIFICATE_DIR)
        self.warnings = []

    def location(self, label):
        return self.path

    def certificate_path(self, label):
        return os.path.join(self.certificate_dir, label + ".crt")

    # --- reading --------------------------------------------------------------------------

    @staticmethod
    def _read(path, what):
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TrustAnchorError("store firefox_policy: cannot read %s %s: %s" % (what, path, exc.strerror))

    def load(self):
        """The parsed policy file, or None when there is none; refuses what it must not rewrite."""
        raw = self._read(self._file, "the policy file")
        if raw is None:
            return None
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise TrustAnchorError(
                "store firefox_policy: %s is not valid JSON (%s); fix it or move it away, it is left untouched"
                % (self.path, exc)
            )
        problem = None
        if not isinstance(data, dict):
            problem = "the top level is not an object"
        elif not isinstance(data.get("policies", {}), dict):
            problem = '"policies" is not an object'
        elif not isinstance(data.get("policies", {}).get("Certificates", {}), dict):
            problem = '"policies.Certificates" is not an object'
        elif not isinstance(data["policies"].get("Certificates", {}).get("Install", []), list):
            problem = '"policies.Certificates.Install" is not a list'
        if problem:
            raise TrustAnchorError("store firefox_policy: %s: %s; fix it, it is left untouched" % (self.path, problem))
        return data

    def _plan(self, label, der, state):
        """(policy before, policy after, certificate before, certificate after); None stands for "no file"."""
        policy = self.load()
        certificate = self.certificate_path(label)
        cert_before = self._read(certificate, "the certificate")
        entry = certificate
        if state == "present":
            after = json.loads(json.dumps(policy if policy is not None else {}))  # a deep copy
            install = after.setdefault("policies", {}).setdefault("Certificates", {}).setdefault("Install", [])
            if entry not in install:
                install.append(entry)
            return policy, after, cert_before, der_to_pem(der).encode("ascii")
        if policy is None:
            return None, None, cert_before, None
        after = json.loads(json.dumps(policy))
        certificates = after.get("policies", {}).get("Certificates")
        if certificates is not None and entry in certificates.get("Install", []):
            certificates["Install"] = [item for item in certificates["Install"] if item != entry]
            # Drop the containers we emptied; "policies" stays, so the file remains a valid policy file.
            if not certificates["Install"]:
                del certificates["Install"]
            if not certificates:
                del after["policies"]["Certificates"]
        return policy, after, cert_before, None

    def check(self, label, der, state):
        """True when nothing needs to change."""
        before, after, cert_before, cert_after = self._plan(label, der, state)
        return before == after and cert_before == cert_after

    # --- writing --------------------------------------------------------------------------

    def add(self, label, der):
        return self._apply(label, der, "present")

    def remove(self, label, der):
        return self._apply(label, der, "absent")

    def _apply(self, label, der, state):
        before, after, cert_before, cert_after = self._plan(label, der, state)
        changed = False
        try:
            # Certificate first on install and last on removal: the policy never names a missing file.
            if cert_after is not None and cert_before != cert_after:
                self._write_certificate(label, cert_after)
                changed = True
            if before != after:
                self._write_policy(before, after)
                changed = True
            if cert_after is None and cert_before is not None:
                os.unlink(self.certificate_path(label))
                changed = True
        except FleetPkiError as exc:
            raise TrustAnchorError("store firefox_policy: %s" % exc)
        except OSError as exc:
            raise TrustAnchorError("store firefox_policy: cannot change %s: %s" % (exc.filename or self.path, exc.strerror))
        return changed

    def _write_certificate(self, label, content):
        path = self.certificate_path(label)
        ensure_directory(self.certificate_dir, NEW_DIR_MODE)
        write_file_atomic(path, content, NEW_FILE_MODE)

    def _write_policy(self, before, after):
        text = json.dumps(after, indent=2, ensure_ascii=False) + "\n"
        if before is None:
            ensure_directory(os.path.dirname(self._file), NEW_DIR_MODE)
            mode, owner, group = NEW_FILE_MODE, None, None
        else:
            mode, owner, group = _owner_and_mode(self._file)
        write_file_atomic(self._file, text.encode("utf-8"), mode, owner, group)
