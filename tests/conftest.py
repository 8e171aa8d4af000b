# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the working tree importable as ``ansible_collections.fleet.pki``.

``make link`` creates ``.fleet/collections/ansible_collections/fleet/pki``, a
relative symlink to the repository root. This file creates it too when it is
missing, and puts ``<repo>/.fleet/collections`` first on ``sys.path``, so that
``import ansible_collections.fleet.pki.plugins.module_utils._x`` loads the
files of this checkout (``ansible_collections``, ``fleet`` and ``pki`` are
implicit namespace packages).
"""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.fleet', 'collections')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'fleet', 'pki')
LINK_TARGET = os.path.join('..', '..', '..', '..')


def _ensure_link():
    """Create the in-place collection symlink unless it is already there."""
    if os.path.islink(LINK) and os.readlink(LINK) == LINK_TARGET:
        return
    if os.path.lexists(LINK):
        raise RuntimeError('%s exists but is not a symlink to %s: remove it, then run make link' % (LINK, LINK_TARGET))
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(LINK_TARGET, LINK)
    except FileExistsError:  # created meanwhile by a parallel worker
        pass


_ensure_link()
if COLLECTIONS in sys.path:
    sys.path.remove(COLLECTIONS)
sys.path.insert(0, COLLECTIONS)
