# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""How a value from the inventory appears in an error message: quoted, printable and bounded."""

from __future__ import annotations

MAX_SHOWN = 80


def shown(value, limit=MAX_SHOWN):
    """`value` in single quotes, control characters escaped and a long value cut short.

    Escaping keeps a newline or an escape sequence in an inventory value from forging lines in a log or
    a terminal; the cut keeps a 10,000-character mistake from burying the message. Letters outside ASCII
    stay as they are, so an internationalised name is still recognisable.
    """
    text = value if isinstance(value, str) else str(value)
    text = "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)
    if len(text) > limit:
        text = f"{text[:limit]}..."
    return f"'{text}'"
