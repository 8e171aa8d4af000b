# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Firefox profiles of one home directory on Linux, for the nss store.

A Firefox profile holds its own NSS database (``cert9.db``, or a legacy ``cert8.db``). Profiles are
found in the Firefox roots of a home: the ``profiles.ini`` of each root lists them (``[Profile<n>]``
sections with ``Path=`` and ``IsRelative=``), and a directory right below a root that holds a
database counts too, so a profile missing from ``profiles.ini`` (or a root without one) is not
missed. Only directories that already hold a database are returned: Firefox creates a profile at
its first launch, and a database made by someone else would not be a profile Firefox uses.
"""

from __future__ import annotations

import configparser
import os


# Firefox roots below a home, in the order they are searched.
FIREFOX_ROOTS = (
    (".mozilla", "firefox"),                                   # classic (deb, tarball, distribution packages)
    ("snap", "firefox", "common", ".mozilla", "firefox"),      # snap
    (".var", "app", "org.mozilla.firefox", ".mozilla", "firefox"),  # flatpak
    (".config", "mozilla", "firefox"),                         # Firefox 147+, XDG default location
)
PROFILES_INI = "profiles.ini"
# Files that make a directory an NSS database (the same as the nss store's).
DATABASE_FILES = ("cert9.db", "cert8.db")


def firefox_roots(home):
    """The Firefox root directories of a home, existing or not."""
    return [os.path.join(home, *parts) for parts in FIREFOX_ROOTS]


def holds_database(directory):
    return any(os.path.isfile(os.path.join(directory, name)) for name in DATABASE_FILES)


def read_profiles_ini(root):
    """(profile directories listed in root/profiles.ini, warnings); ([], []) when there is no such file.

    ``IsRelative=1`` means ``Path`` is relative to root; any other value, or none, means absolute
    (as Firefox reads it). A relative Path without ``IsRelative=1`` is still taken relative to root.
    """
    path = os.path.join(root, PROFILES_INI)
    if not os.path.isfile(path):
        return [], []
    # No interpolation: a "%" in a path is a character, not a reference.
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive in Firefox
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            parser.read_file(handle, source=path)
    except (OSError, configparser.Error) as exc:
        message = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        return [], ["cannot read the Firefox profile list %s: %s; looking for profile directories instead"
                    % (path, message)]
    directories = []
    warnings = []
    for section in parser.sections():
        if not section.startswith("Profile"):
            continue  # [General], [Install...], [BackgroundTasksProfiles]
        value = parser.get(section, "Path", fallback="").strip()
        if not value:
            warnings.append("Firefox profile list %s: section [%s] has no Path; skipped" % (path, section))
            continue
        relative = parser.get(section, "IsRelative", fallback="0").strip() == "1"
        if relative or not os.path.isabs(value):
            value = os.path.join(root, value)
        directories.append(os.path.normpath(value))
    return directories, warnings


def _subdirectories(root):
    try:
        return [entry.path for entry in os.scandir(root) if entry.is_dir()]
    except OSError:
        return []


def firefox_profiles(home):
    """(sorted, de-duplicated real paths of the Firefox profiles of home that hold a database, warnings)."""
    found = set()
    warnings = []
    for root in firefox_roots(home):
        if not os.path.isdir(root):
            continue
        listed, problems = read_profiles_ini(root)
        warnings.extend(problems)
        for directory in listed + _subdirectories(root):
            if os.path.isdir(directory) and holds_database(directory):
                found.add(os.path.realpath(directory))
    return sorted(found), warnings
