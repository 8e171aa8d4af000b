# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""What a device really serves: fetch its certificate over TLS, verify it against the CA and compare fingerprints.

Delivery is only half of a rollout; a service that did not reload still serves the old certificate.
"""

from __future__ import annotations

import hashlib
import socket
import ssl

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


def fetch_served(address, port, ca_pem, timeout=10.0, server_name=None):
    """Connect like a client that trusts only the CA; return the served leaf's SHA-256 (colon hex).

    Raises FleetPkiError with the TLS error when the device cannot be reached or fails verification.
    """
    context = ssl.create_default_context(cadata=ca_pem)
    context.check_hostname = True
    name = server_name or address
    try:
        with socket.create_connection((address, int(port)), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        raise FleetPkiError(f"{_endpoint(address, port)} serves a certificate that does not verify for {name}: "
                            f"{exc.verify_message}") from None
    except (OSError, ssl.SSLError) as exc:
        raise FleetPkiError(f"cannot fetch the certificate served on {_endpoint(address, port)}: {exc}") from None
    return hashlib.sha256(der).hexdigest().upper()


def colon_hex(hex_digest):
    return ":".join(hex_digest[index:index + 2] for index in range(0, len(hex_digest), 2))


def compare(served, expected):
    """Compare fingerprints in any spelling (colons, case)."""
    return _plain(served) == _plain(expected)


def _plain(fingerprint):
    return str(fingerprint or "").replace(":", "").upper()


def _endpoint(address, port):
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
