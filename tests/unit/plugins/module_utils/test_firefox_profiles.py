# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Firefox profile discovery on fake homes (plain files: discovery only looks for cert9.db/cert8.db)."""

from __future__ import annotations

import os

from ansible_collections.fleet.pki.plugins.module_utils._firefox_profiles import (
    firefox_profiles,
    firefox_roots,
    read_profiles_ini,
)


CLASSIC = os.path.join(".mozilla", "firefox")
SNAP = os.path.join("snap", "firefox", "common", ".mozilla", "firefox")
FLATPAK = os.path.join(".var", "app", "org.mozilla.firefox", ".mozilla", "firefox")
XDG = os.path.join(".config", "mozilla", "firefox")


def profile(directory, database="cert9.db"):
    """A directory that looks like a used profile (holding database), or an unused one (database None)."""
    os.makedirs(directory, exist_ok=True)
    if database:
        with open(os.path.join(directory, database), "wb") as handle:
            handle.write(b"")
    return os.path.realpath(directory)


def ini(root, text):
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "profiles.ini"), "w") as handle:
        handle.write(text)


def test_roots_cover_classic_snap_flatpak_and_xdg(tmp_path):
    home = str(tmp_path)
    assert firefox_roots(home) == [os.path.join(home, p) for p in (CLASSIC, SNAP, FLATPAK, XDG)]


def test_no_firefox_no_profiles(tmp_path):
    assert firefox_profiles(str(tmp_path)) == ([], [])


def test_relative_and_absolute_paths_from_profiles_ini(tmp_path):
    home = tmp_path / "home"
    root = home / CLASSIC
    elsewhere = profile(str(tmp_path / "data" / "work-profile"))
    relative = profile(str(root / "abcd1234.default-release"))
    ini(str(root), "[Install4F96D1932A9F858E]\nDefault=abcd1234.default-release\nLocked=1\n\n"
        "[Profile1]\nName=work\nIsRelative=0\nPath=%s\n\n"
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd1234.default-release\nDefault=1\n\n"
        "[General]\nStartWithLastProfile=1\nVersion=2\n" % elsewhere)
    listed, warnings = read_profiles_ini(str(root))
    assert sorted(listed) == sorted([elsewhere, relative]) and warnings == []
    assert firefox_profiles(str(home)) == (sorted([elsewhere, relative]), [])


def test_every_layout_is_searched_and_the_result_is_sorted(tmp_path):
    home = tmp_path / "home"
    found = [
        profile(str(home / CLASSIC / "c1.default")),
        profile(str(home / SNAP / "s1.default")),
        profile(str(home / FLATPAK / "f1.default")),
        profile(str(home / XDG / "x1.default")),
    ]
    # Only the snap root has a profiles.ini: the others are found by their databases.
    ini(str(home / SNAP), "[Profile0]\nName=default\nIsRelative=1\nPath=s1.default\n")
    assert firefox_profiles(str(home)) == (sorted(found), [])


def test_profiles_without_a_database_are_not_profiles_yet(tmp_path):
    home = tmp_path / "home"
    root = home / CLASSIC
    profile(str(root / "never-started.default"), database=None)
    profile(str(root / "Crash Reports"), database=None)
    ini(str(root), "[Profile0]\nIsRelative=1\nPath=never-started.default\n"
        "[Profile1]\nIsRelative=1\nPath=gone.default\n")
    assert firefox_profiles(str(home)) == ([], [])


def test_a_legacy_cert8_profile_counts(tmp_path):
    home = tmp_path / "home"
    legacy = profile(str(home / CLASSIC / "old.default"), database="cert8.db")
    assert firefox_profiles(str(home)) == ([legacy], [])


def test_the_same_profile_reached_twice_is_listed_once(tmp_path):
    home = tmp_path / "home"
    root = home / CLASSIC
    real = profile(str(root / "a.default"))
    os.symlink(real, str(root / "link.default"))
    ini(str(root), "[Profile0]\nIsRelative=1\nPath=a.default\n[Profile1]\nIsRelative=0\nPath=%s\n"
        "[Profile2]\nIsRelative=1\nPath=./link.default\n" % real)
    assert firefox_profiles(str(home)) == ([real], [])


def test_a_malformed_profiles_ini_warns_and_the_directories_still_count(tmp_path):
    home = tmp_path / "home"
    root = home / CLASSIC
    found = profile(str(root / "a.default"))
    ini(str(root), "this is not an ini file\n[Profile0\nPath=\n")
    profiles, warnings = firefox_profiles(str(home))
    assert profiles == [found]
    assert len(warnings) == 1 and os.path.join(str(root), "profiles.ini") in warnings[0], warnings


def test_a_profile_section_without_path_warns(tmp_path):
    home = tmp_path / "home"
    root = home / CLASSIC
    found = profile(str(root / "a.default"))
    ini(str(root), "[Profile0]\nName=broken\n[Profile1]\nIsRelative=1\nPath=a.default\n")
    profiles, warnings = firefox_profiles(str(home))
    assert profiles == [found]
    assert len(warnings) == 1 and "[Profile0] has no Path" in warnings[0]


def test_percent_signs_and_case_in_paths_are_kept(tmp_path):
    home = tmp_path / "home"
    root = home / CLASSIC
    found = profile(str(root / "My%20Profile"))
    ini(str(root), "[Profile0]\nIsRelative=1\nPath=My%20Profile\n")
    assert read_profiles_ini(str(root)) == ([os.path.join(str(root), "My%20Profile")], [])
    assert firefox_profiles(str(home)) == ([found], [])
