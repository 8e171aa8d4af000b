# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PKCS#12 export: algorithms per level (read back by openssl), OpenSSL 3 with and without -legacy, Java keytool,
and rewriting only when the key, certificate, CA, password or level changed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._artifact_exports import converge_exports, export_settings
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._pkcs12_export import build, holds, mac_digest

pytest.importorskip("cryptography")
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402
from firmware_material import Device  # noqa: E402

PASSWORD = "p12-canary-Secret-4471"
OPENSSL = shutil.which("openssl")
KEYTOOL = shutil.which("keytool")
needs_openssl = pytest.mark.skipif(not OPENSSL, reason="the openssl CLI is needed (apt-get install openssl)")
needs_keytool = pytest.mark.skipif(not KEYTOOL, reason="Java keytool is needed (apt-get install default-jdk-headless)")
C_ENV = dict(os.environ, LC_ALL="C", LANGUAGE="C")


@pytest.fixture
def device(tmp_path):
    return Device(tmp_path)


def settings(device, **knobs):
    knobs.setdefault("pkcs12_password", PASSWORD)
    return export_settings(device.host, artifact_formats=["pkcs12"], **knobs)


def p12_path(device):
    return device.path(f"{device.host}.p12")


def openssl_info(path, password, legacy):
    command = [OPENSSL, "pkcs12", "-info", "-noout", "-in", path, "-passin", f"pass:{password}"]
    if legacy:
        command.append("-legacy")
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=C_ENV)
    return result.returncode, result.stdout + result.stderr


def test_a_pkcs12_needs_a_password():
    with pytest.raises(FleetPkiError, match="^host esp-07: .*pkcs12_password is not set"):
        export_settings("esp-07", artifact_formats=["pkcs12"])
    with pytest.raises(FleetPkiError, match="^host esp-07: .*pkcs12_password is not set"):
        export_settings("esp-07", artifact_formats=["pkcs12"], pkcs12_password="")


def test_password_is_not_in_the_settings_repr(device):
    assert PASSWORD not in repr(settings(device))


@needs_openssl
@pytest.mark.parametrize("level, mac, algorithm", [
    ("compat", "MAC: sha1", "pbeWithSHA1And3-KeyTripleDES-CBC"),
    ("modern", "MAC: sha256", "PBES2, PBKDF2, AES-256-CBC"),
])
@pytest.mark.parametrize("legacy", [False, True], ids=["default-provider", "legacy-provider"])
def test_openssl_reads_each_level_with_and_without_legacy(device, level, mac, algorithm, legacy):
    """OpenSSL 3 keeps PBE-SHA1-3DES in its default provider: both levels open with -legacy off and on."""
    converge_exports(device.directory, settings(device, pkcs12_encryption=level), device.chain_pem)
    code, output = openssl_info(p12_path(device), PASSWORD, legacy)
    assert code == 0, output
    assert mac in output
    assert f"PKCS7 Encrypted data: {algorithm}" in output and f"Shrouded Keybag: {algorithm}" in output
    other = "AES-256-CBC" if level == "compat" else "3-KeyTripleDES"
    assert other not in output
    assert output.count("Certificate bag") == 2  # the device and the CA


@needs_openssl
def test_openssl_refuses_a_wrong_password(device):
    converge_exports(device.directory, settings(device), device.chain_pem)
    code, output = openssl_info(p12_path(device), "wrong-password", legacy=False)
    assert code != 0 and "mac verify error" in output.lower(), output


@needs_openssl
def test_control_rc2_needs_the_legacy_provider(device, tmp_path):
    """Control for the -legacy finding: an RC2-40 PKCS#12 (what OpenSSL 1.1 wrote by default) opens only with -legacy,
    so the legacy test above would notice if 3DES needed it too."""
    path = str(tmp_path / "rc2.p12")
    made = subprocess.run([OPENSSL, "pkcs12", "-export", "-legacy", "-certpbe", "PBE-SHA1-RC2-40", "-inkey",
                           device.path("key.pem"), "-in", device.path("cert.pem"), "-out", path,
                           "-passout", f"pass:{PASSWORD}"], capture_output=True, text=True, check=False, env=C_ENV)
    if made.returncode != 0:
        pytest.skip(f"this OpenSSL cannot write RC2-40 at all: {made.stderr.strip()}")
    assert openssl_info(path, PASSWORD, legacy=False)[0] != 0
    assert openssl_info(path, PASSWORD, legacy=True)[0] == 0


@needs_keytool
@pytest.mark.parametrize("level", ["compat", "modern"])
def test_java_keytool_lists_the_key_entry(device, level):
    converge_exports(device.directory, settings(device, pkcs12_encryption=level), device.chain_pem)
    listing = subprocess.run([KEYTOOL, "-list", "-storetype", "PKCS12", "-keystore", p12_path(device),
                              "-storepass", PASSWORD], capture_output=True, text=True, check=False, env=C_ENV)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    fingerprint = device.certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert "Your keystore contains 1 entry" in listing.stdout
    assert f"{device.host}, " in listing.stdout and "PrivateKeyEntry" in listing.stdout
    assert fingerprint in listing.stdout
    wrong = subprocess.run([KEYTOOL, "-list", "-storetype", "PKCS12", "-keystore", p12_path(device),
                            "-storepass", "wrong-password"], capture_output=True, text=True, check=False, env=C_ENV)
    assert wrong.returncode != 0


def test_content_key_cert_and_ca_round_trip_with_mode_0600(device):
    converge_exports(device.directory, settings(device), device.chain_pem)
    assert stat.S_IMODE(os.stat(p12_path(device)).st_mode) == 0o600
    key, cert, cas = pkcs12.load_key_and_certificates(device.read(f"{device.host}.p12"), PASSWORD.encode())
    assert cert == device.certificate and key.public_key() == device.key.public_key()
    assert [ca.subject for ca in cas] == [device.authority.certificate.subject]


def test_rewritten_only_when_certificate_password_or_level_changes(device):
    assert converge_exports(device.directory, settings(device), device.chain_pem)[1] == [f"{device.host}.p12"]
    first = device.read(f"{device.host}.p12")
    for _attempt in range(2):  # random salts: the bytes would differ if it were rebuilt
        assert converge_exports(device.directory, settings(device), device.chain_pem)[1] == []
        assert device.read(f"{device.host}.p12") == first
    assert converge_exports(device.directory, settings(device, pkcs12_password="another-one"), device.chain_pem)[1] \
        == [f"{device.host}.p12"]
    assert converge_exports(device.directory, settings(device, pkcs12_password="another-one", pkcs12_encryption="modern"),
                            device.chain_pem)[1] == [f"{device.host}.p12"]
    assert mac_digest(device.read(f"{device.host}.p12")) == "sha256"
    device.reissue()
    changed = converge_exports(device.directory, settings(device, pkcs12_password="another-one",
                                                          pkcs12_encryption="modern"), device.chain_pem)[1]
    assert changed == [f"{device.host}.p12"]
    _key, cert, _cas = pkcs12.load_key_and_certificates(device.read(f"{device.host}.p12"), b"another-one")
    assert cert == device.certificate


def test_check_mode_reports_a_password_change_and_writes_nothing(device):
    converge_exports(device.directory, settings(device), device.chain_pem)
    before = device.read(f"{device.host}.p12")
    changed = converge_exports(device.directory, settings(device, pkcs12_password="new"), device.chain_pem,
                               check_mode=True)[1]
    assert changed == [f"{device.host}.p12"] and device.read(f"{device.host}.p12") == before


def test_holds_and_mac_digest(device):
    data = build(device.host, device.key, device.certificate, [device.authority.certificate], PASSWORD, "compat")
    assert mac_digest(data) == "sha1"
    assert holds(data, device.key, device.certificate, [device.authority.certificate], PASSWORD, "compat")
    assert not holds(data, device.key, device.certificate, [device.authority.certificate], PASSWORD, "modern")
    assert not holds(data, device.key, device.certificate, [device.authority.certificate], "wrong", "compat")
    assert not holds(data, device.key, device.certificate, [], PASSWORD, "compat")
    assert not holds(b"garbage", device.key, device.certificate, [device.authority.certificate], PASSWORD, "compat")
    assert mac_digest(b"\x30\x03\x02\x01\x03") is None
    with pytest.raises(FleetPkiError, match="needs a password"):
        build(device.host, device.key, device.certificate, [], "", "compat")
