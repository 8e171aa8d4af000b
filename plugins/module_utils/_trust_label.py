# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""The identity of a CA certificate as the trust stores see it.

PEM parsing, SHA-256 fingerprints and the stable label, with the standard library only:
this runs on targets that have no Python ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


# Used for every generated label whose CN sanitizes to nothing.
DEFAULT_LABEL_NAME = "fleet-pki-ca"

# Labels become file names, NSS nicknames and Java aliases: keep them to a safe alphabet.
_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_LABEL_EDGES = "._-"
_VALID_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The X.509 upper bound for a CN (ub-common-name); also keeps "<label>.crt" far below NAME_MAX.
_MAX_NAME = 64
MAX_LABEL = 128

_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\s*?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_BASE64_ONLY = re.compile(r"^[A-Za-z0-9+/=\s]*$")


class TrustAnchorError(FleetPkiError):
    """Bad input or a failed trust-store operation; the message is meant for the user."""


def sha256_hex(der):
    """Lower-case hex SHA-256 of the DER certificate (the usual certificate fingerprint)."""
    return hashlib.sha256(der).hexdigest()


def ca_label(common_name, der):
    """Stable label of a CA: sanitized CN, a dash, and the first 16 hex digits of its SHA-256.

    The fingerprint part makes a re-created CA install side by side with the old one
    instead of silently replacing it.
    """
    name = _LABEL_CHARS.sub("_", common_name or "")
    name = re.sub(r"_+", "_", name).strip(_LABEL_EDGES)
    name = name[:_MAX_NAME].rstrip(_LABEL_EDGES)
    if not name:
        name = DEFAULT_LABEL_NAME
    return "%s-%s" % (name, sha256_hex(der)[:16])


def validate_label(label):
    """Raise TrustAnchorError unless the label is safe as a file name and an alias."""
    if not isinstance(label, str) or not _VALID_LABEL.match(label) or len(label) > MAX_LABEL:
        raise TrustAnchorError(
            "label %r is not valid: use 1 to %d characters from [A-Za-z0-9._-], "
            "starting with a letter or digit" % (label, MAX_LABEL)
        )
    return label


def pem_blocks(text):
    """Return (type, body) for every PEM block in text, in order."""
    return [(m.group(1), m.group(2)) for m in _PEM_BLOCK.finditer(text)]


def pem_body_to_der(body):
    """Decode the base64 body of a PEM block; TrustAnchorError when it is not base64."""
    if not _BASE64_ONLY.match(body):
        raise TrustAnchorError("PEM block is not valid base64")
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TrustAnchorError("PEM block is not valid base64: %s" % exc)
    # Every certificate is a DER SEQUENCE.
    if not der or der[0] != 0x30:
        raise TrustAnchorError("PEM block does not hold a DER certificate")
    return der


def certificate_ders(text):
    """DER bytes of every CERTIFICATE block in text (other block types are skipped)."""
    return [pem_body_to_der(body) for kind, body in pem_blocks(text) if kind == "CERTIFICATE"]


def single_certificate_der(text):
    """DER of the one certificate in a PEM text; TrustAnchorError for anything else.

    Non-certificate blocks (a private key pasted by mistake, for example) are refused, so a
    key can never travel into a trust store.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise TrustAnchorError("not a PEM certificate (binary data; convert DER with 'openssl x509 -inform DER')")
    blocks = pem_blocks(text)
    others = sorted(set(kind for kind, dummy in blocks if kind != "CERTIFICATE"))
    if others:
        raise TrustAnchorError(
            "expected only a CA certificate, found a PEM block of type %s" % ", ".join(others)
        )
    ders = certificate_ders(text)
    if not ders:
        raise TrustAnchorError("not a PEM certificate (no '-----BEGIN CERTIFICATE-----' block found)")
    if len(ders) > 1:
        raise TrustAnchorError("expected exactly one certificate, found %d" % len(ders))
    return ders[0]


def der_to_pem(der):
    """Canonical PEM text (64-column base64, trailing newline) for a DER certificate."""
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % "\n".join(lines)
