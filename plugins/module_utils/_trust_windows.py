# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The windows store: the fleet CA in Cert:\\LocalMachine\\Root, through ansible.windows.win_certificate_store.

fleet.pki ships no PowerShell of its own. ansible.windows maintains and tests a module for the Windows
certificate stores, and this project has no Windows and no pwsh to test one of its own. The action plugin
copies the CA (DER) into the host's temporary directory and runs that module once; this file builds the
module's arguments and turns its answer into the per-store result that the other stores give.
"""

from __future__ import annotations

import hashlib

WINDOWS_MODULE = "ansible.windows.win_certificate_store"
STORE_NAME = "Root"
STORE_LOCATION = "LocalMachine"
# The name of the CA file in the host's temporary directory, removed with that directory.
REMOTE_FILE = "fleet-pki-ca.der.crt"


def thumbprint(der):
    """Windows names a certificate by the SHA-1 of its DER, in upper-case hex."""
    return hashlib.sha1(der).hexdigest().upper()  # nosec B324: an identifier, as Windows defines it


def store_path(der):
    return "Cert:\\%s\\%s\\%s" % (STORE_LOCATION, STORE_NAME, thumbprint(der))


def windows_module_args(state, der, remote_path=None):
    """Arguments of win_certificate_store: add the file at remote_path, or remove by the CA's thumbprint.

    Removal by thumbprint takes exactly our CA and nothing else, as the label does on the other stores.
    """
    args = dict(state=state, store_name=STORE_NAME, store_location=STORE_LOCATION)
    if state == "present":
        if not remote_path:
            raise ValueError("state present needs the path of the CA file on the host")
        args["path"] = remote_path
    else:
        args["thumbprint"] = thumbprint(der)
    return args


def windows_result(label, sha256, der, state, changed, diff=False):
    """fleet.pki.trust_anchor's result for the windows store from whether win_certificate_store changed it.

    win_certificate_store adds or removes by thumbprint only when needed, so `changed` also says what was there
    before: that is the diff, in the same words as the other stores.
    """
    result = dict(changed=changed, label=label, sha256=sha256,
                  stores=dict(windows=dict(changed=changed, path=store_path(der))))
    if diff:
        present = "present: %s (sha256 %s)\n" % (label, sha256)
        after = present if state == "present" else "absent\n"
        before = after if not changed else ("absent\n" if state == "present" else present)
        header = "windows: %s" % store_path(der)
        result["diff"] = [dict(before=before, after=after, before_header=header, after_header=header)]
    return result
