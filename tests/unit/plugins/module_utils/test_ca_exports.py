# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CA exports (DER and Apple profile). Installation on iOS, iPadOS and macOS cannot be tested here: there is no
Apple device and no `plutil` on Debian, so the profile is checked with plistlib and against Apple's documented keys."""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_exports import (
    DER_FILE, EXPORT_FILES, MOBILECONFIG_FILE, der_certificate, export_paths, mobileconfig, write_exports,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

WITH_O = AuthoritySettings(common_name="Test Fleet CA", organization="Example Ltd")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot(paths):
    """What a rewrite would change: content, inode and mtime."""
    return [(open(path, "rb").read(), os.stat(path).st_ino, os.stat(path).st_mtime_ns) for path in paths]


@pytest.fixture
def ca(pki_dir, now):
    authority, _changed, _notes = ensure_authority(pki_dir, WITH_O, now=now)
    return authority


def test_der_is_the_ca_certificate(ca):
    der = der_certificate(ca.certificate)
    assert der[0] == 0x30
    assert x509.load_der_x509_certificate(der) == ca.certificate


def test_profile_round_trips_with_the_keys_apple_reads(ca):
    profile = plistlib.loads(mobileconfig(ca.certificate, ca.label))
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadVersion"] == 1 and not isinstance(profile["PayloadVersion"], bool)  # <integer>
    assert profile["PayloadIdentifier"] == f"fleet.pki.{ca.label}"
    assert profile["PayloadDisplayName"] == "Test Fleet CA"
    assert profile["PayloadOrganization"] == "Example Ltd"
    assert "Certificate Trust Settings" in profile["PayloadDescription"]
    assert ca.facts()["fingerprint_sha256"] in profile["PayloadDescription"]  # as the task returns it

    [root] = profile["PayloadContent"]
    assert root["PayloadType"] == "com.apple.security.root"
    assert root["PayloadVersion"] == 1
    assert root["PayloadIdentifier"] == f"fleet.pki.{ca.label}.root"
    assert root["PayloadCertificateFileName"] == f"{ca.label}.cer"
    assert root["PayloadDisplayName"] == "Test Fleet CA"
    assert isinstance(root["PayloadContent"], bytes)  # <data>, not a base64 <string>
    assert root["PayloadContent"] == ca.certificate.public_bytes(serialization.Encoding.DER)
    assert x509.load_der_x509_certificate(root["PayloadContent"]) == ca.certificate

    uuids = [profile["PayloadUUID"], root["PayloadUUID"]]
    assert len(set(uuids)) == 2
    for value in uuids:
        assert str(uuid.UUID(value)).upper() == value and uuid.UUID(value).version == 5


def test_profile_is_an_xml_plist_with_sorted_keys(ca):
    data = mobileconfig(ca.certificate, ca.label)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                           b'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"')
    keys = [line.strip()[5:-6] for line in data.decode().splitlines() if line.startswith("\t<key>")]
    assert keys == sorted(keys) and "PayloadUUID" in keys


def test_two_runs_give_byte_identical_exports(tmp_path, ca, pki_dir):
    first = [mobileconfig(ca.certificate, ca.label), der_certificate(ca.certificate)]
    assert [mobileconfig(ca.certificate, ca.label), der_certificate(ca.certificate)] == first
    # A second PKI directory with a copy of the same CA writes the same bytes: nothing depends on time or chance.
    other = str(tmp_path / "copy")
    shutil.copytree(pki_dir, other)
    for path in export_paths(other):
        if os.path.exists(path):
            os.unlink(path)
    write_exports(pki_dir, ca.certificate, ca.label)
    write_exports(other, ca.certificate, ca.label)
    assert [open(path, "rb").read() for path in export_paths(pki_dir)] == first[::-1]
    assert [open(path, "rb").read() for path in export_paths(other)] == first[::-1]


def test_another_ca_gets_other_identifiers_and_uuids(tmp_path, ca, now):
    other, _changed, _notes = ensure_authority(str(tmp_path / "other"), WITH_O, now=now)
    mine = plistlib.loads(mobileconfig(ca.certificate, ca.label))
    theirs = plistlib.loads(mobileconfig(other.certificate, other.label))
    assert mine["PayloadDisplayName"] == theirs["PayloadDisplayName"]  # same CN ...
    assert mine["PayloadIdentifier"] != theirs["PayloadIdentifier"]  # ... but installed side by side
    assert mine["PayloadUUID"] != theirs["PayloadUUID"]
    assert mine["PayloadContent"][0]["PayloadUUID"] != theirs["PayloadContent"][0]["PayloadUUID"]


def test_a_ca_without_o_gives_a_valid_profile(tmp_path, now):
    ca, _changed, _notes = ensure_authority(str(tmp_path / "pki"), AuthoritySettings(common_name="Bare CA"), now=now)
    profile = plistlib.loads(mobileconfig(ca.certificate, ca.label))
    assert "PayloadOrganization" not in profile
    assert profile["PayloadType"] == "Configuration" and profile["PayloadDisplayName"] == "Bare CA"
    assert x509.load_der_x509_certificate(profile["PayloadContent"][0]["PayloadContent"]) == ca.certificate


def test_write_exports_writes_both_files_readable_by_openssl(ca, pki_dir):
    assert write_exports(pki_dir, ca.certificate, ca.label) == list(EXPORT_FILES)
    der_path, mobileconfig_path = export_paths(pki_dir)
    assert der_path == os.path.join(pki_dir, "ca", DER_FILE)
    assert mobileconfig_path == os.path.join(pki_dir, "ca", MOBILECONFIG_FILE)
    assert mode(der_path) == 0o644 and mode(mobileconfig_path) == 0o644
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", der_path, "-noout", "-subject"],
                         check=True, capture_output=True, text=True).stdout
    assert "CN = Test Fleet CA" in out and "O = Example Ltd" in out
    assert plistlib.loads(open(mobileconfig_path, "rb").read())["PayloadType"] == "Configuration"
    assert not [name for name in os.listdir(os.path.dirname(der_path)) if name.endswith(".tmp")]


def test_second_run_rewrites_nothing(ca, pki_dir):
    write_exports(pki_dir, ca.certificate, ca.label)
    before = snapshot(export_paths(pki_dir))
    assert write_exports(pki_dir, ca.certificate, ca.label) == []
    assert snapshot(export_paths(pki_dir)) == before


def test_check_mode_writes_nothing_but_reports(ca, pki_dir):
    assert write_exports(pki_dir, ca.certificate, ca.label, check_mode=True) == list(EXPORT_FILES)
    assert not any(os.path.exists(path) for path in export_paths(pki_dir))
    write_exports(pki_dir, ca.certificate, ca.label)
    with open(export_paths(pki_dir)[1], "wb") as handle:
        handle.write(b"stale")
    before = snapshot(export_paths(pki_dir))
    assert write_exports(pki_dir, ca.certificate, ca.label, check_mode=True) == [MOBILECONFIG_FILE]
    assert snapshot(export_paths(pki_dir)) == before


def test_a_stale_or_foreign_export_is_replaced(ca, pki_dir, tmp_path, now):
    other, _changed, _notes = ensure_authority(str(tmp_path / "other"), WITH_O, now=now)
    write_exports(pki_dir, other.certificate, other.label)
    assert write_exports(pki_dir, ca.certificate, ca.label) == list(EXPORT_FILES)
    der_path, mobileconfig_path = export_paths(pki_dir)
    assert x509.load_der_x509_certificate(open(der_path, "rb").read()) == ca.certificate
    assert plistlib.loads(open(mobileconfig_path, "rb").read())["PayloadIdentifier"] == f"fleet.pki.{ca.label}"


def test_a_wrong_mode_is_corrected_without_a_rewrite(ca, pki_dir):
    write_exports(pki_dir, ca.certificate, ca.label)
    der_path = export_paths(pki_dir)[0]
    os.chmod(der_path, 0o600)
    inode = os.stat(der_path).st_ino
    assert write_exports(pki_dir, ca.certificate, ca.label) == [DER_FILE]
    assert mode(der_path) == 0o644 and os.stat(der_path).st_ino == inode


@pytest.mark.parametrize("label", ["", "../evil", "with space", "x" * 200])
def test_a_bad_label_is_named_and_nothing_is_written(ca, pki_dir, label):
    with pytest.raises(FleetPkiError, match="label .* is not valid"):
        write_exports(pki_dir, ca.certificate, label)
    assert not any(os.path.exists(path) for path in export_paths(pki_dir))


def test_an_unwritable_directory_is_named(ca, pki_dir):
    if os.geteuid() == 0:
        pytest.skip("root writes every directory")
    ca_dir = os.path.dirname(export_paths(pki_dir)[0])
    os.chmod(ca_dir, 0o500)
    try:
        with pytest.raises(FleetPkiError, match=f"cannot write {ca_dir}"):
            write_exports(pki_dir, ca.certificate, ca.label)
    finally:
        os.chmod(ca_dir, 0o700)


def test_a_directory_in_place_of_an_export_is_named(ca, pki_dir):
    os.mkdir(export_paths(pki_dir)[0])
    with pytest.raises(FleetPkiError, match=f"cannot read {export_paths(pki_dir)[0]}"):
        write_exports(pki_dir, ca.certificate, ca.label)


def test_the_exports_follow_a_remade_ca_certificate(ca, pki_dir, now):
    write_exports(pki_dir, ca.certificate, ca.label)
    os.unlink(os.path.join(pki_dir, "ca", "ca.crt"))
    remade, changed, _notes = ensure_authority(pki_dir, WITH_O, now=now)
    assert changed and remade.certificate != ca.certificate
    assert write_exports(pki_dir, remade.certificate, remade.label) == list(EXPORT_FILES)
    assert x509.load_der_x509_certificate(open(export_paths(pki_dir)[0], "rb").read()) == remade.certificate


def test_a_missing_ca_directory_is_named(ca, tmp_path):
    nowhere = str(tmp_path / "nowhere")
    with pytest.raises(FleetPkiError, match=f"cannot write {nowhere}/ca/{DER_FILE}"):
        write_exports(nowhere, ca.certificate, ca.label)
