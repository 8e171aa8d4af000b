# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Inventory knobs (fleet_pki_*) as defaults for task options: one source of truth for every plugin."""

from __future__ import annotations

import os

KNOB_PREFIX = "fleet_pki_"


def option_or_knob(task_args, variables, templar, option, knob=None):
    """The task option if set, else the host's `fleet_pki_<option>` variable (templated), else None."""
    value = task_args.get(option)
    if value is not None:
        return value
    raw = variables.get(knob or KNOB_PREFIX + option)
    return None if raw is None else template(templar, raw)


def template(templar, value):
    """The value with its templates expanded; plain strings and numbers skip the templar (a fleet has thousands)."""
    if isinstance(value, (bool, int, float)) or (isinstance(value, str) and "{" not in value):
        return value
    return templar.template(value)


def host_variables(hostvars, name):
    """One host's variables, from `hostvars`, for reading its knobs.

    hostvars[name] builds a template engine per host and templates every value read. When none of the host's
    knobs (fleet_pki_*, ansible_host) holds a template, the plain variables are the same values for less: a
    fleet of 10,000 hosts then saves about a second. Otherwise the templating view is returned.
    """
    variables = hostvars.raw_get(name)
    if any(_has_template(value) for key, value in variables.items() if key.startswith(KNOB_PREFIX) or key == "ansible_host"):
        return hostvars[name]
    return variables


def _has_template(value):
    if isinstance(value, str):
        return "{" in value
    if isinstance(value, (list, tuple)):
        return any(_has_template(item) for item in value)
    if isinstance(value, dict):
        return any(_has_template(item) for item in value.values())
    return False


def resolve_pki_dir(value, variables, templar):
    """Absolute PKI directory. Relative paths and the default ('pki' beside the inventory) start at the inventory."""
    base = template(templar, variables.get("inventory_dir") or "") or os.getcwd()
    return os.path.abspath(os.path.join(base, os.path.expanduser(str(value or "pki"))))


def host_knobs(host_variables, templar, task_args=None):
    """The values host_settings() takes, for one host."""
    task_args = task_args or {}
    names = ("ip_addresses", "dns_names", "profile", "key_type", "validity_days", "renew_before", "delivery",
             "key_location")
    values = {name: option_or_knob(task_args, host_variables, templar, name) for name in names}
    address = host_variables.get("ansible_host")
    values["ansible_host"] = template(templar, address) if address is not None else host_variables.get("inventory_hostname")
    return values
