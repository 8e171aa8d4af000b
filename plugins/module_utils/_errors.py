# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The one exception type the core raises; plugins turn it into a task failure."""

from __future__ import annotations


class FleetPkiError(Exception):
    """Bad input or state. The message names the value that is wrong and never contains a secret."""
