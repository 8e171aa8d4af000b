# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Certificate serial numbers: 128 random bits, positive, unique within the CA's index."""

from __future__ import annotations

import secrets

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError


def random_serial():
    while True:
        serial = secrets.randbits(128)
        if serial >> 120:  # a full 16 bytes, never a leading zero byte (easy-rsa rejects those too)
            return serial


def serial_hex(serial):
    """Upper-case hex with an even number of digits, as openssl writes serials."""
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def unique_serial(known_hex, tries=5):
    """A serial not in `known_hex` (serial_hex strings from the index)."""
    for _attempt in range(tries):
        serial = random_serial()
        if serial_hex(serial) not in known_hex:
            return serial
    raise FleetPkiError(f"could not draw a unique serial in {tries} tries; the index looks corrupt")
