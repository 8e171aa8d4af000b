# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: the operating system store, which family a host belongs to.

Detection goes by os-release ID, then each ID_LIKE word in order (the source Ansible's
``ansible_os_family`` uses too), and then checks that the family's tooling is really there
(a trimmed image may lack the ca-certificates package). The families themselves live in
``_trust_system_stores``.

Every path is taken below ``root`` so that tests can point the backend at a temp directory.
"""

from __future__ import annotations

import os
import shlex

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError
from ansible_collections.fleet.pki.plugins.module_utils._trust_system_stores import (
    AlpineSystemStore,
    ArchSystemStore,
    DebianSystemStore,
    FreeBsdSystemStore,
    RhelSystemStore,
    SuseSystemStore,
)


# (store class, os-release IDs that select it, description for the "not supported" message)
FAMILIES = (
    (DebianSystemStore, ("debian", "ubuntu"),
     "Debian family (Debian, Ubuntu, Raspberry Pi OS and other distributions with ID_LIKE=debian)"),
    (AlpineSystemStore, ("alpine",), "Alpine"),
    (RhelSystemStore, ("rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol"),
     "RHEL family (RHEL, Fedora, CentOS, Rocky, AlmaLinux, Amazon Linux, Oracle Linux)"),
    (SuseSystemStore, ("suse", "sles", "sled", "opensuse"), "SUSE (openSUSE Leap and Tumbleweed, SLES)"),
    (ArchSystemStore, ("arch",), "Arch family (Arch, Manjaro and others with ID_LIKE=arch)"),
    (FreeBsdSystemStore, ("freebsd",), "FreeBSD"),
)
SUPPORTED_FAMILIES = "; ".join(description for dummy, dummy2, description in FAMILIES)
_OS_RELEASE = ("etc/os-release", "usr/lib/os-release")


def read_os_release(root="/"):
    """Key/value pairs of os-release below root; empty dict when there is none."""
    for relative in _OS_RELEASE:
        try:
            with open(os.path.join(root, relative)) as f:
                text = f.read()
        except IOError:
            continue
        info = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            try:
                words = shlex.split(value)
            except ValueError:
                words = [value]
            info[key] = " ".join(words)
        return info
    return {}


def _os_ids(info):
    return [info.get("ID", "").lower()] + info.get("ID_LIKE", "").lower().split()


def family_store_class(info):
    """The store class for this os-release, or None when no family fits."""
    for os_id in _os_ids(info):
        for store_class, ids, dummy in FAMILIES:
            # openSUSE's IDs are opensuse-leap, opensuse-tumbleweed, ...
            if os_id in ids or (store_class is SuseSystemStore and os_id.startswith("opensuse")):
                return store_class
    return None


def is_debian_family(info):
    return family_store_class(info) is DebianSystemStore


def describe_os(info):
    if not info:
        return "an operating system without /etc/os-release"
    name = info.get("PRETTY_NAME") or info.get("NAME") or info.get("ID") or "unknown"
    like = info.get("ID_LIKE")
    return "%s (ID=%s%s)" % (name, info.get("ID", "?"), ", ID_LIKE=%s" % like if like else "")


def detect_system_store(run, root="/", refresh_command=None):
    """The system store backend for this host, or TrustAnchorError saying why there is none.

    ``run(argv)`` runs a command and returns ``(rc, stdout, stderr)``, like
    ``AnsibleModule.run_command``. ``refresh_command`` replaces the family's refresh command
    (tests use it to run a real tool on a relocated tree).
    """
    info = read_os_release(root)
    store_class = family_store_class(info)
    if store_class is None:
        raise TrustAnchorError(
            "store system is not supported on %s; supported: %s" % (describe_os(info), SUPPORTED_FAMILIES)
        )
    store = store_class(run, root=root, refresh_command=refresh_command)
    problem = store.missing(describe_os(info))
    if problem:
        raise TrustAnchorError(problem)
    return store
