# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: a PEM bundle file (for SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS).

Our certificate is written as a marker comment followed by its PEM block::

    # fleet.pki: <label>
    -----BEGIN CERTIFICATE-----
    ...
    -----END CERTIFICATE-----

Everything else in the file is left byte for byte as it was.
"""

from __future__ import annotations

import base64
import binascii
import errno
import os
import re

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    der_to_pem,
)


MARKER_PREFIX = "# fleet.pki: "
NEW_FILE_MODE = 0o644
NEW_DIR_MODE = 0o755

# One certificate block, with our marker line when it directly precedes it. Works on bytes so
# that the rest of the file is kept exactly (line endings, stray text, other block types).
_BLOCK = re.compile(
    rb"^(?:# fleet\.pki: (?P<label>[^\r\n]*)\r?\n)?"
    rb"-----BEGIN CERTIFICATE-----[ \t]*\r?\n"
    rb"(?P<body>[A-Za-z0-9+/=\s]*?)"
    rb"-----END CERTIFICATE-----[ \t]*(?:\r?\n|\Z)",
    re.MULTILINE,
)


def _block_der(body):
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None  # a damaged block is somebody else's problem; leave it alone


class BundleStore:
    """A PEM bundle file at ``path`` (symlinks are followed, so the link itself survives)."""

    name = "bundle"

    def __init__(self, path):
        if not path or not os.path.isabs(path):
            raise TrustAnchorError("store bundle: bundle_path must be an absolute path, got %r" % (path,))
        self.path = path
        # Read and write the link target, so that a symbolic link stays a link.
        self._file = os.path.realpath(path)
        if os.path.isdir(self._file):
            raise TrustAnchorError("store bundle: bundle_path %s is a directory, not a file" % path)
        self.warnings = []

    def location(self, label):
        return self.path

    def _read(self):
        try:
            with open(self._file, "rb") as f:
                return f.read()
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise TrustAnchorError("store bundle: cannot read %s: %s" % (self.path, exc))

    @staticmethod
    def _entry(label, der):
        return (MARKER_PREFIX + label + "\n" + der_to_pem(der)).encode("ascii")

    def _without(self, content, label, der, keep_same_der):
        """content minus our blocks: those under our label and (unless keep_same_der) those holding der."""
        pieces = []
        last = 0
        for match in _BLOCK.finditer(content):
            marker = match.group("label")
            ours_by_label = marker is not None and marker.decode("ascii", "replace").strip() == label
            block_der = _block_der(match.group("body"))
            same_der = block_der == der
            if (ours_by_label and not (keep_same_der and same_der)) or (same_der and not keep_same_der):
                pieces.append(content[last:match.start()])
                last = match.end()
        pieces.append(content[last:])
        return b"".join(pieces)

    def _contains(self, content, der):
        return any(_block_der(m.group("body")) == der for m in _BLOCK.finditer(content))

    def _plan(self, label, der, state):
        """Return (before, after) file contents for state; None stands for "no file"."""
        before = self._read()
        if state == "present":
            # A block under our label that holds another certificate is replaced, as the
            # system store replaces <label>.crt; the same certificate without our marker counts.
            after = self._without(before or b"", label, der, keep_same_der=True)
            if not self._contains(after, der):
                if after and not after.endswith(b"\n"):
                    after += b"\n"
                after += self._entry(label, der)
        elif before is None:
            after = None
        else:
            after = self._without(before, label, der, keep_same_der=False)
        return before, after

    def check(self, label, der, state):
        """True when the bundle is already in state (nothing to do)."""
        before, after = self._plan(label, der, state)
        return before == after

    def add(self, label, der):
        """Make the certificate present; True when the file changed."""
        return self._apply(label, der, "present")

    def remove(self, label, der):
        """Remove our block(s) and nothing else; True when the file changed."""
        return self._apply(label, der, "absent")

    def _apply(self, label, der, state):
        before, after = self._plan(label, der, state)
        if before == after:
            return False
        try:
            if before is None:
                ensure_directory(os.path.dirname(self._file), NEW_DIR_MODE)
                mode, owner, group = NEW_FILE_MODE, None, None
            else:
                # Keep the mode and owner of the file we replace.
                st = os.stat(self._file)
                mode = st.st_mode & 0o7777
                owner = st.st_uid if st.st_uid != os.geteuid() else None
                group = st.st_gid if st.st_gid != os.getegid() else None
            write_file_atomic(self._file, after, mode, owner, group)
        except FleetPkiError as exc:
            raise TrustAnchorError("store bundle: %s" % exc)
        except OSError as exc:
            raise TrustAnchorError("store bundle: cannot write %s: %s" % (self.path, exc.strerror))
        return True
