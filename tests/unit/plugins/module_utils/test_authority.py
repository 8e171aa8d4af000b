# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import multiprocessing
import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible_collections.fleet.pki.plugins.module_utils._authority import (
    AuthoritySettings, ca_paths, ensure_authority, load_authority,
)
from ansible_collections.fleet.pki.plugins.module_utils._ca_renewal import renew_ca_certificate
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

SETTINGS = AuthoritySettings(common_name="Test Fleet CA", organization="Example Ltd")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_a_ca_with_the_profile_clients_need(pki_dir, now):
    ca, changed, notes = ensure_authority(pki_dir, SETTINGS, now=now)
    assert changed and notes == []
    cert = ca.certificate
    assert cert.subject.rfc4514_string() == "O=Example Ltd,CN=Test Fleet CA"
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert (cert.not_valid_after_utc - now).days == 3650
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"


def test_files_and_directories_have_private_modes(pki_dir, now):
    ensure_authority(pki_dir, SETTINGS, now=now)
    cert_path, key_path = ca_paths(pki_dir)
    assert mode(pki_dir) == 0o700
    assert mode(os.path.dirname(key_path)) == 0o700
    assert mode(key_path) == 0o600
    assert mode(cert_path) == 0o644
    assert os.path.exists(os.path.join(pki_dir, "index.txt"))
    assert open(os.path.join(pki_dir, "index.txt.attr"), encoding="utf-8").read() == "unique_subject = no\n"


def test_present_means_no_op_and_the_key_is_never_rewritten(pki_dir, now):
    ensure_authority(pki_dir, SETTINGS, now=now)
    cert_path, key_path = ca_paths(pki_dir)
    before = (open(key_path, "rb").read(), os.stat(key_path).st_mtime_ns, open(cert_path, "rb").read())
    other = AuthoritySettings(common_name="Another CA", key_type="rsa-3072", permitted_ip_networks=("10.0.0.0/8",))
    ca, changed, notes = ensure_authority(pki_dir, other, now=now)
    assert not changed
    assert (open(key_path, "rb").read(), os.stat(key_path).st_mtime_ns, open(cert_path, "rb").read()) == before
    assert any("common_name 'Test Fleet CA'" in note for note in notes)
    assert any("ec-p256, not rsa-3072" in note for note in notes)
    assert any("never regenerated" in note for note in notes)
    assert ca.label.startswith("Test_Fleet_CA-")


def test_passphrase_encrypts_the_key_and_is_checked(pki_dir, now):
    ensure_authority(pki_dir, SETTINGS, passphrase="correct horse", now=now)
    key_pem = open(ca_paths(pki_dir)[1], "rb").read()
    assert b"ENCRYPTED PRIVATE KEY" in key_pem and b"correct horse" not in key_pem
    assert ensure_authority(pki_dir, SETTINGS, passphrase="correct horse")[1] is False
    with pytest.raises(FleetPkiError, match="passphrase is wrong"):
        ensure_authority(pki_dir, SETTINGS, passphrase="battery staple")
    with pytest.raises(FleetPkiError, match="is encrypted: set the CA passphrase"):
        ensure_authority(pki_dir, SETTINGS)
    with pytest.raises(FleetPkiError, match="passphrase is wrong"):
        load_authority(pki_dir).private_key("nope")
    assert load_authority(pki_dir).private_key("correct horse")


def test_a_key_that_does_not_match_the_certificate_is_refused(pki_dir, now):
    ensure_authority(pki_dir, SETTINGS, now=now)
    foreign = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with open(ca_paths(pki_dir)[1], "wb") as handle:
        handle.write(foreign)
    with pytest.raises(FleetPkiError, match="does not match the CA certificate"):
        ensure_authority(pki_dir, SETTINGS)


@pytest.mark.parametrize("content, message", [
    (b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----\n", "not a readable private key"),
    (b"", "not a readable private key"),
])
def test_a_truncated_key_is_refused(pki_dir, now, content, message):
    ensure_authority(pki_dir, SETTINGS, now=now)
    with open(ca_paths(pki_dir)[1], "wb") as handle:
        handle.write(content)
    with pytest.raises(FleetPkiError, match=message):
        ensure_authority(pki_dir, SETTINGS)


def test_a_certificate_without_its_key_is_never_given_a_new_key(pki_dir, now):
    ensure_authority(pki_dir, SETTINGS, now=now)
    os.unlink(ca_paths(pki_dir)[1])
    with pytest.raises(FleetPkiError, match="refusing to create a new CA key"):
        ensure_authority(pki_dir, SETTINGS)
    assert not os.path.exists(ca_paths(pki_dir)[1])


def test_a_missing_certificate_is_remade_for_the_existing_key(pki_dir, now):
    ca, _changed, _notes = ensure_authority(pki_dir, SETTINGS, now=now)
    key_before = open(ca_paths(pki_dir)[1], "rb").read()
    os.unlink(ca_paths(pki_dir)[0])
    again, changed, notes = ensure_authority(pki_dir, SETTINGS, now=now)
    assert changed and "existing key" in notes[0]
    assert open(ca_paths(pki_dir)[1], "rb").read() == key_before
    assert again.certificate.public_key() == ca.certificate.public_key()


def test_check_mode_writes_nothing(pki_dir):
    ca, changed, _notes = ensure_authority(pki_dir, SETTINGS, check_mode=True)
    assert ca is None and changed
    assert not os.path.exists(pki_dir)


@pytest.mark.parametrize("settings, message", [
    (AuthoritySettings(common_name=""), "common_name is required"),
    (AuthoritySettings(common_name="CA", key_type="rsa-1024"), "RSA below 2048"),
    (AuthoritySettings(common_name="CA", key_type="dsa"), "not one of"),
    (AuthoritySettings(common_name="CA", validity_days=0), "between 1 and"),
    (AuthoritySettings(common_name="CA", permitted_ip_networks=("::/0",)), "permits everything"),
    (AuthoritySettings(common_name="CA", permitted_ip_networks=("10.0.0.1/8",)), "host bits set"),
])
def test_bad_settings_write_nothing(pki_dir, settings, message):
    with pytest.raises(FleetPkiError, match=message):
        ensure_authority(pki_dir, settings)
    assert not os.path.exists(pki_dir)


def test_unreadable_pki_directory(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every directory")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    with pytest.raises(FleetPkiError, match="not readable"):
        ensure_authority(str(locked), SETTINGS)


def test_a_file_in_place_of_the_pki_directory(tmp_path):
    path = tmp_path / "pki"
    path.write_text("")
    with pytest.raises(FleetPkiError, match="is not a directory"):
        ensure_authority(str(path), SETTINGS)


def test_missing_pki_directory_is_named(tmp_path):
    with pytest.raises(FleetPkiError, match="does not exist; run fleet.pki.authority first"):
        load_authority(str(tmp_path / "nowhere"))


def test_rsa_ca_and_openssl_reads_it(pki_dir, now):
    ca, _changed, _notes = ensure_authority(pki_dir, AuthoritySettings(common_name="RSA CA", key_type="rsa-2048"), now=now)
    assert isinstance(ca.certificate.public_key(), rsa.RSAPublicKey)
    out = subprocess.run(["openssl", "x509", "-in", ca_paths(pki_dir)[0], "-noout", "-ext", "basicConstraints,keyUsage"],
                         check=True, capture_output=True, text=True).stdout
    assert "CA:TRUE, pathlen:0" in out and "Certificate Sign, CRL Sign" in out


def tree(path):
    """Every path under `path` with its content (files) and mode: what "nothing was written" compares."""
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            found[full] = (mode(full), open(full, "rb").read() if name in files else None)
    return found


# Too open (issue 8): like ssh's "UNPROTECTED PRIVATE KEY FILE", refused with the path, the mode and the fix.
@pytest.mark.parametrize("where, bad_mode, message", [
    ("ca/ca.key", 0o644, "is open to group or others (mode 0644)"),
    ("ca/ca.key", 0o640, "is open to group or others (mode 0640)"),
    ("ca/ca.key", 0o602, "is open to group or others (mode 0602)"),
    ("ca", 0o770, "CA directory {path} is writable by group or others (mode 0770)"),
    ("ca", 0o703, "CA directory {path} is writable by group or others (mode 0703)"),
    ("", 0o775, "PKI directory {path} is writable by group or others (mode 0775)"),
    ("", 0o1777, "PKI directory {path} is writable by group or others (mode 1777)"),
])
def test_a_pki_directory_open_to_others_is_refused_before_anything_is_written(pki_dir, now, where, bad_mode, message):
    ensure_authority(pki_dir, SETTINGS, now=now)
    path = os.path.join(pki_dir, where) if where else pki_dir
    os.chmod(path, bad_mode)
    os.unlink(ca_paths(pki_dir)[0])  # ensure_authority would write a new certificate, if it went on
    before = tree(pki_dir)
    for attempt in (lambda: ensure_authority(pki_dir, SETTINGS, now=now), lambda: load_authority(pki_dir)):
        with pytest.raises(FleetPkiError) as error:
            attempt()
        assert message.format(path=path) in str(error.value)
        fix = "chmod 600" if where == "ca/ca.key" else "chmod go-w"
        assert f"{fix} {path}" in str(error.value)
    assert tree(pki_dir) == before


def test_the_key_mode_is_checked_on_every_load_of_the_key(pki_dir, now):
    authority, _changed, _notes = ensure_authority(pki_dir, SETTINGS, now=now)
    os.chmod(ca_paths(pki_dir)[1], 0o644)  # after the CA was loaded: signing still refuses
    with pytest.raises(FleetPkiError, match="like ssh with an unprotected private key file"):
        authority.private_key()


@pytest.mark.parametrize("key_mode, directory_mode", [(0o600, 0o755), (0o400, 0o711), (0o600, 0o700)])
def test_readable_directories_and_a_private_key_are_fine(pki_dir, now, key_mode, directory_mode):
    """Reading the directories is allowed: they hold public files, and the key file guards itself (as ssh does)."""
    ensure_authority(pki_dir, SETTINGS, now=now)
    os.chmod(ca_paths(pki_dir)[1], key_mode)
    os.chmod(pki_dir, directory_mode)
    os.chmod(os.path.dirname(ca_paths(pki_dir)[1]), directory_mode)
    assert load_authority(pki_dir).private_key()
    assert ensure_authority(pki_dir, SETTINGS)[1] is False


# An expired CA certificate (issue 8): refuse to sign with it, say so and point to the rotation guide.
def test_an_expired_ca_refuses_to_sign_and_points_to_rotation(pki_dir, now):
    ensure_authority(pki_dir, AuthoritySettings(common_name="Short CA", validity_days=1), now=now)
    authority = load_authority(pki_dir)  # loading it is fine: renewal and reports need it
    later = now + datetime.timedelta(days=2)
    with pytest.raises(FleetPkiError) as error:
        authority.private_key(now=later)
    message = str(error.value)
    assert f"the CA certificate {ca_paths(pki_dir)[0]} expired on 2026-11-27" in message
    assert "refusing to sign" in message and "docs/ca-rotation.md" in message and "playbooks/renew.yml" in message
    assert authority.private_key(now=now + datetime.timedelta(hours=23))  # still valid: signs
    renewed = renew_ca_certificate(authority, None, 3650, later)  # the way out: same key, new validity
    assert renewed.private_key(now=later)


@pytest.mark.parametrize("cut", ["no END line", "short body", "one byte"])
@pytest.mark.parametrize("passphrase", [None, "correct horse"])
def test_a_truncated_key_is_named_truncated_not_a_wrong_passphrase(pki_dir, now, cut, passphrase):
    ensure_authority(pki_dir, SETTINGS, passphrase=passphrase, now=now)
    key_path = ca_paths(pki_dir)[1]
    lines = open(key_path, "rb").read().splitlines(keepends=True)
    damaged = {"no END line": b"".join(lines[:len(lines) // 2]),
               "short body": b"".join(lines[:2] + lines[-1:]),
               "one byte": lines[0][:1]}[cut]
    with open(key_path, "wb") as handle:
        handle.write(damaged)
    with pytest.raises(FleetPkiError) as error:
        load_authority(pki_dir).private_key(passphrase)
    assert f"CA key {key_path} is not a readable private key" in str(error.value)
    assert "passphrase is wrong" not in str(error.value)
    assert "correct horse" not in str(error.value) and "PRIVATE KEY" not in str(error.value)


def test_a_certificate_in_place_of_the_key_is_not_readable(pki_dir, now):
    ensure_authority(pki_dir, SETTINGS, now=now)
    with open(ca_paths(pki_dir)[1], "wb") as handle:
        handle.write(open(ca_paths(pki_dir)[0], "rb").read())
    with pytest.raises(FleetPkiError, match="is not a readable private key"):
        load_authority(pki_dir).private_key()


def test_an_old_style_encrypted_ca_key_is_not_mistaken_for_a_truncated_one(pki_dir, now):
    """`openssl genrsa -aes256` keys carry Proc-Type/DEK-Info headers and ciphertext, not DER: still readable."""
    ensure_authority(pki_dir, SETTINGS, now=now)
    key_path = ca_paths(pki_dir)[1]
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)
    legacy = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                               serialization.BestAvailableEncryption(b"legacy pass"))
    assert b"Proc-Type: 4,ENCRYPTED" in legacy
    with open(key_path, "wb") as handle:
        handle.write(legacy)
    assert load_authority(pki_dir).private_key("legacy pass")
    with pytest.raises(FleetPkiError, match="passphrase is wrong"):
        load_authority(pki_dir).private_key("not it")


def _create_after(barrier, pki_dir, results):
    barrier.wait()
    _ca, changed, _notes = ensure_authority(pki_dir, AuthoritySettings(common_name="Race CA"))
    results.put(changed)


def test_two_processes_creating_the_same_ca_at_once_make_one_ca_and_one_key(tmp_path):
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        pki_dir = str(tmp_path / f"race{attempt}")
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=_create_after, args=(barrier, pki_dir, results)) for _worker in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        assert sorted(results.get(timeout=5) for _worker in workers) == [False, True]  # exactly one made the CA
        certificate = x509.load_pem_x509_certificate(open(os.path.join(pki_dir, "ca", "ca.crt"), "rb").read())
        key = serialization.load_pem_private_key(open(os.path.join(pki_dir, "ca", "ca.key"), "rb").read(), None)
        assert key.public_key().public_numbers() == certificate.public_key().public_numbers()


@pytest.mark.parametrize("step", ["next", "previous"])
def test_no_new_ca_while_a_rollover_is_half_done(tmp_path, step):
    pki_dir = str(tmp_path / "pki")
    ensure_authority(os.path.join(pki_dir, step), AuthoritySettings(common_name="Moved CA"))  # ca/ was renamed away
    with pytest.raises(FleetPkiError, match=rf"a CA rollover is half done \(.*/{step}/ca exists.*fleet_pki_rollover_step=switch"):
        ensure_authority(pki_dir, AuthoritySettings(common_name="Fresh CA"))
    assert not os.path.exists(os.path.join(pki_dir, "ca"))
