# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Rolling the fleet over to a new CA (a new key), with an overlap in which clients trust both.

Three steps, each one a state of the PKI directory that a crash can only leave half-done in a way
the same step finishes on its next run:

- prepare: a new CA in ``next/ca/``; clients are then given it next to the current one.
- switch:  ``ca/`` becomes ``previous/ca/`` and ``next/ca/`` becomes ``ca/``; every device is then
  re-issued under the new CA ("not signed by the current CA") while clients still trust both.
- retire:  clients drop the previous CA; ``previous/`` is moved to ``retired/<label>/``. Keys are
  never deleted: an old key may still be needed to sign a CRL for the leaves it issued.

The main index (``index.txt``) stays where it is: serials are random 128-bit numbers, so the two
CAs' certificates cannot collide in it.
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import ensure_directory, fsync_directory
from ansible_collections.fleet.pki.plugins.module_utils._authority import (
    CA_DIR,
    AuthoritySettings,
    ensure_authority,
    load_authority,
    load_ca_key,
)
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import common_name
from ansible_collections.fleet.pki.plugins.module_utils._crypto import NameOID
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._key_types import key_type_of
from ansible_collections.fleet.pki.plugins.module_utils._name_constraints import constraints_of
from ansible_collections.fleet.pki.plugins.module_utils._pki_lock import pki_lock

NEXT = "next"
PREVIOUS = "previous"
RETIRED = "retired"
STEPS = ("prepare", "switch", "retire")


def _has_ca(directory):
    return os.path.isfile(os.path.join(directory, CA_DIR, "ca.crt"))


def rollover_state(pki_dir):
    """Which CAs the PKI directory holds: {'current': Authority or None, 'next': ..., 'previous': ...}."""
    return {name: load_authority(path) if _has_ca(path) else None
            for name, path in (("current", pki_dir), ("next", os.path.join(pki_dir, NEXT)),
                               ("previous", os.path.join(pki_dir, PREVIOUS)))}


def next_settings(current, now, common_name_=None, key_type=None, validity_days=3650):
    """Settings for the next CA: a new subject (so no store mixes the two up), the same key type and
    name constraints as the current CA unless told otherwise."""
    networks, domains = constraints_of(current.certificate) or ((), ())
    name = common_name_ or f"{common_name(current.certificate)} {now:%Y-%m}"
    if name == common_name(current.certificate):
        raise FleetPkiError(f"the next CA needs a common name other than the current one ('{name}'), "
                            "so that trust stores can tell them apart")
    organization = current.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return AuthoritySettings(
        common_name=name,
        organization=organization[0].value if organization else "",
        key_type=key_type or key_type_of(current.certificate.public_key()),
        validity_days=validity_days,
        permitted_ip_networks=tuple(str(network) for network in networks),
        permitted_dns_domains=tuple(domains),
    )


def prepare(pki_dir, settings, passphrase=None, check_mode=False, now=None):
    """Create the next CA in next/ca/ unless it is there. Returns (next Authority or None in check mode, changed)."""
    state = rollover_state(pki_dir)
    if state["current"] is None:
        raise FleetPkiError(f"there is no CA in {pki_dir} to roll over from; run fleet.pki.authority first")
    if state["previous"] is not None:
        raise FleetPkiError(f"{os.path.join(pki_dir, PREVIOUS)} still holds the CA of the last rollover; "
                            "finish it with the step retire first")
    if state["next"] is not None:
        return state["next"], False
    # The passphrase must open the current key, so the new key gets the same protection: a rollover run without the
    # passphrase fails here instead of leaving the fleet with an unencrypted CA key.
    load_ca_key(state["current"].key_path, passphrase, state["current"].certificate)
    ensure_directory(os.path.join(pki_dir, NEXT), 0o700)
    authority, changed, _notes = ensure_authority(os.path.join(pki_dir, NEXT), settings, passphrase,
                                                  check_mode=check_mode, now=now)
    return authority, changed


def switch(pki_dir, check_mode=False):
    """Make the next CA the current one and keep the current one as previous. Returns changed."""
    current_dir, next_dir = os.path.join(pki_dir, CA_DIR), os.path.join(pki_dir, NEXT, CA_DIR)
    previous_dir = os.path.join(pki_dir, PREVIOUS, CA_DIR)
    with pki_lock(pki_dir):
        state = rollover_state(pki_dir)
        if state["next"] is None:
            if state["previous"] is not None and state["current"] is not None:
                return False  # switched already
            raise FleetPkiError(f"there is no next CA in {os.path.join(pki_dir, NEXT)}; run the step prepare first")
        if state["current"] is not None and state["previous"] is not None:
            # Three CAs: a switch moves nothing, because no key may end up overwritten or in an unexpected place.
            raise FleetPkiError(
                f"{os.path.join(pki_dir, PREVIOUS)} still holds the CA of the last rollover, and ca/ and "
                f"{NEXT}/ca/ hold one each; nothing was moved. If the last rollover is done, finish it with the step "
                "retire first. If a switch was interrupted between its two renames and a new CA was created in ca/ "
                "before it finished, that ca/ is not the fleet's CA: move it out of the PKI directory (keep it) and "
                "run the step switch again")
        if check_mode:
            return True
        if state["current"] is not None:
            ensure_directory(os.path.join(pki_dir, PREVIOUS), 0o700)
            # The current key is moved, never copied over or deleted: first out of the way, then the next CA in.
            os.rename(current_dir, previous_dir)
        # A crash here leaves no current CA, previous/ and next/ in place: this step, run again, finishes.
        os.rename(next_dir, current_dir)
        for directory in (pki_dir, os.path.join(pki_dir, PREVIOUS), os.path.join(pki_dir, NEXT)):
            fsync_directory(directory)  # every directory whose entries changed
    return True


def retire(pki_dir, check_mode=False):
    """Move previous/ to retired/<label>/. Returns (the retired label or None when there was nothing, changed)."""
    with pki_lock(pki_dir):
        state = rollover_state(pki_dir)
        if state["previous"] is None:
            return None, False
        if state["next"] is not None:
            raise FleetPkiError(f"{os.path.join(pki_dir, NEXT)} holds a next CA that was never switched to")
        label = state["previous"].label
        if check_mode:
            return label, True
        destination = os.path.join(pki_dir, RETIRED, label)
        if os.path.exists(destination):
            destination += datetime.datetime.now(datetime.timezone.utc).strftime("-%Y%m%dT%H%M%SZ")
        ensure_directory(os.path.join(pki_dir, RETIRED), 0o700)
        os.rename(os.path.join(pki_dir, PREVIOUS), destination)
        for directory in (pki_dir, os.path.join(pki_dir, RETIRED)):
            fsync_directory(directory)
    return label, True
