# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation in index.txt and the CRL, checked with cryptography and cross-checked with the openssl CLI."""

from __future__ import annotations

import datetime
import multiprocessing
import os
import re
import shutil
import stat
import subprocess
import threading

import pytest
from cryptography import x509

from ansible_collections.fleet.pki.plugins.module_utils import _atomic_files, _crl
from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_index import read_index
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue, leaf_common_name
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key
from ansible_collections.fleet.pki.plugins.module_utils._pki_lock import pki_lock
from ansible_collections.fleet.pki.plugins.module_utils._revocation import (
    REASONS, host_subject, normalise_serial, parse_revocation_field, revoke_and_publish,
)

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")

FLAGS = {
    "unspecified": None,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
}


def sign(authority, host, now=None, passphrase=None):
    key = generate_private_key("ec-p256")
    request = LeafRequest(leaf_common_name(host), (("IP", "127.0.0.1"),), "server", 365)
    return issue(authority, authority.private_key(passphrase), key.public_key(), request, now)


def serial_of(certificate):
    return format(certificate.serial_number, "X").zfill(32)


def index_bytes(pki_dir):
    with open(os.path.join(pki_dir, "index.txt"), "rb") as handle:
        return handle.read()


def read(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def snapshot(pki_dir):
    """Every file of the PKI directory (relative path -> bytes)."""
    files = {}
    for root, _dirs, names in os.walk(pki_dir):
        for name in names:
            path = os.path.join(root, name)
            files[os.path.relpath(path, pki_dir)] = read(path)
    return files


def load_crl(pki_dir):
    return x509.load_pem_x509_crl(read(os.path.join(pki_dir, "crl.pem")))


def crl_rows(crl):
    return sorted((row.serial, row.revoked_at, row.reason) for row in _crl.entries_of(crl))


@pytest.fixture
def fleet(authority, now):
    """dev1, dev2 and dev3 with one certificate each: {host: certificate}."""
    return {host: sign(authority, host, now) for host in ("dev1", "dev2", "dev3")}


# --- index.txt --------------------------------------------------------------------------------------------------

def test_revoking_a_serial_rewrites_only_its_line(authority, fleet, now):
    before = index_bytes(authority.pki_dir).decode().splitlines()
    serial = serial_of(fleet["dev2"])
    outcome = revoke_and_publish(authority.pki_dir, serials=[serial], reason="keyCompromise", now=now)
    after = index_bytes(authority.pki_dir).decode().splitlines()
    assert after[0] == before[0] and after[2] == before[2]
    status, expires, revoked, line_serial, name, subject = before[1].split("\t")
    assert status == "V" and revoked == ""
    assert after[1] == "\t".join(("R", expires, "261126120000Z,keyCompromise", line_serial, name, subject))
    assert index_bytes(authority.pki_dir).endswith(b"\n")
    assert [item.serial for item in outcome.revoked] == [serial]
    assert outcome.revoked[0].host == "dev2" and outcome.revoked[0].subject == "/CN=dev2"
    assert outcome.index_diff == ((before[1], after[1]),)
    assert outcome.changed


def test_serials_are_accepted_as_openssl_prints_them(authority, fleet, now):
    serial = serial_of(fleet["dev1"])
    colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).lower()
    assert normalise_serial(colons) == serial and normalise_serial("serial=" + serial) == serial
    assert normalise_serial("0x" + serial.lower()) == serial
    assert normalise_serial("abc") == "0ABC"
    outcome = revoke_and_publish(authority.pki_dir, serials=[colons], now=now)
    assert [item.serial for item in outcome.revoked] == [serial]
    with pytest.raises(FleetPkiError, match="serial 'xyz' is not a hexadecimal"):
        normalise_serial("xyz")


def test_revoking_again_changes_nothing(authority, fleet, now):
    serial = serial_of(fleet["dev1"])
    revoke_and_publish(authority.pki_dir, serials=[serial], reason="superseded", now=now)
    files = snapshot(authority.pki_dir)
    later = now + HOUR
    again = revoke_and_publish(authority.pki_dir, serials=[serial], reason="keyCompromise", now=later)
    assert not again.changed and again.revoked == () and again.index_diff == ()
    assert [(item.serial, item.reason, item.revoked_at) for item in again.already_revoked] == [(serial, "superseded", now)]
    assert snapshot(authority.pki_dir) == files
    assert again.crl.number == 1 and again.crl.reasons == ()


def test_an_unknown_serial_is_named_and_nothing_is_written(authority, fleet, now):
    files = snapshot(authority.pki_dir)
    with pytest.raises(FleetPkiError, match=r"serial 0ABCDEF1 is not in .*index\.txt"):
        revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev1"]), "abcdef1"], now=now)
    assert snapshot(authority.pki_dir) == files


def test_revoking_a_host_revokes_all_its_valid_certificates(authority, fleet, now):
    second, third = sign(authority, "dev1", now), sign(authority, "dev1", now)
    revoke_and_publish(authority.pki_dir, serials=[serial_of(third)], reason="superseded", now=now)
    other_lines = [line for line in index_bytes(authority.pki_dir).decode().splitlines() if "/CN=dev1" not in line]
    outcome = revoke_and_publish(authority.pki_dir, hosts=["dev1"], reason="cessationOfOperation", now=now + HOUR)
    assert sorted(item.serial for item in outcome.revoked) == sorted([serial_of(fleet["dev1"]), serial_of(second)])
    assert all(item.host == "dev1" and item.reason == "cessationOfOperation" for item in outcome.revoked)
    assert [item.serial for item in outcome.already_revoked] == [serial_of(third)]
    lines = index_bytes(authority.pki_dir).decode().splitlines()
    assert [line for line in lines if "/CN=dev1" not in line] == other_lines
    statuses = {entry.serial: (entry.status, entry.revoked) for entry in read_index(authority.pki_dir)}
    assert statuses[serial_of(second)] == ("R", "261126130000Z,cessationOfOperation")
    assert statuses[serial_of(third)] == ("R", "261126120000Z,superseded")
    assert statuses[serial_of(fleet["dev2"])] == ("V", "")
    assert {row[0] for row in crl_rows(load_crl(authority.pki_dir))} == {
        fleet["dev1"].serial_number, second.serial_number, third.serial_number}


def test_a_host_is_matched_by_its_subject_not_by_a_prefix(authority, now):
    sign(authority, "dev1", now)
    sign(authority, "dev10", now)
    long_name = "x" * 70
    sign(authority, long_name, now)
    assert host_subject(long_name) == "/CN=" + "x" * 64  # as issuance cuts the CN
    outcome = revoke_and_publish(authority.pki_dir, hosts=["dev1", long_name], now=now)
    assert sorted(item.subject for item in outcome.revoked) == ["/CN=dev1", "/CN=" + "x" * 64]
    assert [entry.status for entry in read_index(authority.pki_dir) if entry.subject == "/CN=dev10"] == ["V"]


def test_a_host_without_certificates_is_named(authority, fleet, now):
    del fleet
    with pytest.raises(FleetPkiError, match=r"host dev9: no certificate with subject /CN=dev9 in .*index\.txt"):
        revoke_and_publish(authority.pki_dir, hosts=["dev9"], now=now)
    assert not os.path.exists(os.path.join(authority.pki_dir, "crl.pem"))


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_each_reason_is_written_as_openssl_writes_it_and_published_with_its_code(authority, fleet, now, reason):
    serial = serial_of(fleet["dev3"])
    outcome = revoke_and_publish(authority.pki_dir, serials=[serial], reason=reason, now=now)
    entry = next(entry for entry in read_index(authority.pki_dir) if entry.serial == serial)
    expected = {"unspecified": "261126120000Z", "cACompromise": "261126120000Z,CACompromise"}.get(
        reason, f"261126120000Z,{reason}")
    assert entry.revoked == expected
    assert outcome.revoked[0].reason == reason
    assert crl_rows(load_crl(authority.pki_dir)) == [(fleet["dev3"].serial_number, now, FLAGS[reason])]


def test_reasons_are_checked_and_case_does_not_matter(authority, fleet, now):
    outcome = revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev1"])], reason="KEYCOMPROMISE", now=now)
    assert outcome.revoked[0].reason == "keyCompromise"
    for refused in ("certificateHold", "privilegeWithdrawn", "stolen"):
        with pytest.raises(FleetPkiError, match=f"revocation reason '{refused}' is not one of unspecified, keyCompromise"):
            revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev2"])], reason=refused, now=now)
    assert [entry.status for entry in read_index(authority.pki_dir)] == ["R", "V", "V"]


def test_index_fields_written_by_openssl_by_hand_are_understood():
    moment = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
    assert parse_revocation_field("261126120000Z") == (moment, None)
    assert parse_revocation_field("261126120000Z,unspecified") == (moment, None)
    assert parse_revocation_field("261126120000Z,keyTime,20261101000000Z") == (moment, x509.ReasonFlags.key_compromise)
    assert parse_revocation_field("261126120000Z,holdInstruction,holdInstructionReject")[1] == x509.ReasonFlags.certificate_hold
    with pytest.raises(FleetPkiError, match="serial AB: revocation reason 'bogus'"):
        parse_revocation_field("261126120000Z,bogus", "AB")
    with pytest.raises(FleetPkiError, match="serial AB: revocation time 'yesterday'"):
        parse_revocation_field("yesterday", "AB")


# --- the CRL ----------------------------------------------------------------------------------------------------

def test_the_crl_says_what_the_index_says_and_is_signed_by_the_ca(authority, fleet, now):
    revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev1"])], reason="keyCompromise", now=now)
    revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev3"])], now=now + HOUR)
    crl = load_crl(authority.pki_dir)
    assert crl.issuer == authority.certificate.subject
    assert crl.is_signature_valid(authority.certificate.public_key())
    assert crl.signature_hash_algorithm.name == "sha256"
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    ski = authority.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == ski
    assert crl.last_update_utc == (now + HOUR) - HOUR  # set one hour back from the time of signing
    assert crl.next_update_utc == now + HOUR + 30 * DAY
    assert crl_rows(crl) == sorted([(fleet["dev1"].serial_number, now, x509.ReasonFlags.key_compromise),
                                    (fleet["dev3"].serial_number, now + HOUR, None)])
    serials = [row.serial_number for row in crl]
    assert serials == sorted(serials)  # as openssl ca sorts them
    der = read(os.path.join(authority.pki_dir, "crl.der"))
    assert x509.load_der_x509_crl(der) == crl
    for name in ("crl.pem", "crl.der", "crlnumber"):
        assert stat.S_IMODE(os.stat(os.path.join(authority.pki_dir, name)).st_mode) == 0o644
    assert read(os.path.join(authority.pki_dir, "crlnumber")) == b"03\n"


def test_an_empty_crl_is_published_when_nothing_is_revoked(authority, fleet, now):
    outcome = revoke_and_publish(authority.pki_dir, now=now)
    assert outcome.changed and outcome.revoked == () and outcome.crl.reasons == ("missing",)
    crl = load_crl(authority.pki_dir)
    assert len(crl) == 0 and crl.is_signature_valid(authority.certificate.public_key())
    assert [entry.status for entry in read_index(authority.pki_dir)] == ["V"] * len(fleet)


def test_the_crl_number_moves_only_when_a_new_crl_is_signed(authority, fleet, now):
    def number():
        return load_crl(authority.pki_dir).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    revoke_and_publish(authority.pki_dir, now=now)
    assert number() == 1
    kept = revoke_and_publish(authority.pki_dir, now=now + 14 * DAY)  # before half of 30 days (and the hour back)
    assert not kept.changed and kept.crl.number == 1 and number() == 1
    revoked = revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev2"])], now=now + 14 * DAY)
    assert number() == 2 and revoked.crl.reasons == (f"entries differ: +{serial_of(fleet['dev2'])}",)
    stale = revoke_and_publish(authority.pki_dir, now=now + 29 * DAY + 12 * HOUR)
    assert number() == 3 and len(stale.crl.reasons) == 1
    assert stale.crl.reasons[0].startswith("more than half of its validity has passed (nextUpdate 2027-01-09T12:00:00Z)")
    assert load_crl(authority.pki_dir).next_update_utc == now + 59 * DAY + 12 * HOUR
    shorter = revoke_and_publish(authority.pki_dir, crl_validity_days=7, now=now + 29 * DAY + 13 * HOUR)
    assert shorter.crl.reasons == ("validity differs: 30 -> 7 days",) and number() == 4
    assert read(os.path.join(authority.pki_dir, "crlnumber")) == b"05\n"


def test_the_number_stays_above_the_current_crl_even_if_crlnumber_is_lost(authority, fleet, now):
    del fleet
    revoke_and_publish(authority.pki_dir, now=now)
    revoke_and_publish(authority.pki_dir, now=now + 20 * DAY)
    os.unlink(os.path.join(authority.pki_dir, "crlnumber"))
    outcome = revoke_and_publish(authority.pki_dir, now=now + 40 * DAY)
    assert outcome.crl.number == 3
    with open(os.path.join(authority.pki_dir, "crlnumber"), "w", encoding="utf-8") as handle:
        handle.write("zz\n")
    with pytest.raises(FleetPkiError, match=r"crlnumber holds 'zz', not a hex CRL number"):
        revoke_and_publish(authority.pki_dir, now=now + 80 * DAY)


def test_a_crl_of_another_ca_or_a_broken_one_is_replaced(authority, fleet, now, tmp_path):
    del fleet
    other, _changed, _notes = ensure_authority(str(tmp_path / "other"), AuthoritySettings(common_name="Test Fleet CA"), now=now)
    revoke_and_publish(other.pki_dir, now=now)
    shutil.copy(os.path.join(other.pki_dir, "crl.pem"), os.path.join(authority.pki_dir, "crl.pem"))
    outcome = revoke_and_publish(authority.pki_dir, now=now)
    assert outcome.crl.reasons == ("not signed by the current CA",)
    assert load_crl(authority.pki_dir).is_signature_valid(authority.certificate.public_key())
    with open(os.path.join(authority.pki_dir, "crl.pem"), "w", encoding="utf-8") as handle:
        handle.write("not a crl")
    assert revoke_and_publish(authority.pki_dir, now=now).crl.reasons == ("unreadable",)


def test_a_missing_der_copy_is_restored_without_a_new_crl(authority, fleet, now):
    del fleet
    revoke_and_publish(authority.pki_dir, now=now)
    pem = read(os.path.join(authority.pki_dir, "crl.pem"))
    os.unlink(os.path.join(authority.pki_dir, "crl.der"))
    outcome = revoke_and_publish(authority.pki_dir, now=now)
    assert outcome.changed and outcome.crl.reasons == () and outcome.crl.number == 1
    assert read(os.path.join(authority.pki_dir, "crl.pem")) == pem
    assert x509.load_der_x509_crl(read(os.path.join(authority.pki_dir, "crl.der"))) == load_crl(authority.pki_dir)


def test_crl_validity_is_checked(authority, fleet, now):
    del fleet
    for days, message in ((0, "crl_validity_days 0 is outside 1 to 365"), (366, "crl_validity_days 366 is outside"),
                          ("soon", "crl_validity_days 'soon' is not a whole number")):
        with pytest.raises(FleetPkiError, match=message):
            revoke_and_publish(authority.pki_dir, crl_validity_days=days, now=now)
    assert not os.path.exists(os.path.join(authority.pki_dir, "crl.pem"))


# --- passphrase, check mode, atomicity, the lock ----------------------------------------------------------------

def test_a_wrong_passphrase_writes_nothing(pki_dir, now):
    authority, _changed, _notes = ensure_authority(pki_dir, AuthoritySettings(common_name="Vault CA"),
                                                   passphrase="right-canary", now=now)
    certificate = sign(authority, "dev1", now, passphrase="right-canary")
    files = snapshot(pki_dir)
    for passphrase, message in (("wrong-canary", "the CA passphrase is wrong"), (None, "is encrypted: set the CA passphrase")):
        with pytest.raises(FleetPkiError, match=message) as caught:
            revoke_and_publish(pki_dir, hosts=["dev1"], passphrase=passphrase, now=now)
        assert "canary" not in str(caught.value)
    assert snapshot(pki_dir) == files
    outcome = revoke_and_publish(pki_dir, hosts=["dev1"], passphrase="right-canary", now=now)
    assert [item.serial for item in outcome.revoked] == [serial_of(certificate)]
    assert load_crl(pki_dir).is_signature_valid(authority.certificate.public_key())


def test_check_mode_reports_and_writes_nothing(authority, fleet, now):
    lock = os.path.join(authority.pki_dir, ".lock")
    os.unlink(lock)
    files = snapshot(authority.pki_dir)
    outcome = revoke_and_publish(authority.pki_dir, hosts=["dev2"], reason="keyCompromise", now=now, check_mode=True)
    assert outcome.changed and [item.serial for item in outcome.revoked] == [serial_of(fleet["dev2"])]
    assert outcome.index_diff[0][1].startswith("R\t")
    assert outcome.crl.reasons == ("missing",) and outcome.crl.number == 1
    assert outcome.crl.next_update == now + 30 * DAY
    assert snapshot(authority.pki_dir) == files and not os.path.exists(lock)
    revoke_and_publish(authority.pki_dir, now=now)
    files = snapshot(authority.pki_dir)
    outcome = revoke_and_publish(authority.pki_dir, hosts=["dev2"], now=now, check_mode=True)
    assert outcome.crl.number == 2 and outcome.crl.reasons == (f"entries differ: +{serial_of(fleet['dev2'])}",)
    assert snapshot(authority.pki_dir) == files


def _fail_on(monkeypatch, name):
    """Make the atomic rename of `name` fail, as a full disk or a pulled plug would, after the temp file exists."""
    real = os.replace

    def replace(source, destination):
        if os.path.basename(destination) == name:
            raise OSError(28, "No space left on device")
        return real(source, destination)

    monkeypatch.setattr(_atomic_files.os, "replace", replace)


def test_a_failure_writing_the_index_leaves_every_file_as_it_was(authority, fleet, now, monkeypatch):
    revoke_and_publish(authority.pki_dir, now=now)
    files = snapshot(authority.pki_dir)
    _fail_on(monkeypatch, "index.txt")
    with pytest.raises(FleetPkiError, match="no space left on device; the old file is unchanged"):
        revoke_and_publish(authority.pki_dir, hosts=["dev1"], now=now)
    assert snapshot(authority.pki_dir) == files  # no temp file left behind either
    del fleet


def test_a_failure_writing_the_crl_keeps_the_old_crl_and_the_next_run_publishes(authority, fleet, now, monkeypatch):
    revoke_and_publish(authority.pki_dir, now=now)
    old_crl = read(os.path.join(authority.pki_dir, "crl.pem"))
    _fail_on(monkeypatch, "crl.pem")
    with pytest.raises(FleetPkiError, match="crl.pem: no space left"):
        revoke_and_publish(authority.pki_dir, hosts=["dev1"], reason="keyCompromise", now=now)
    assert read(os.path.join(authority.pki_dir, "crl.pem")) == old_crl
    assert [name for name in os.listdir(authority.pki_dir) if name.endswith(".tmp")] == []
    # The index (the source of truth) has the revocation; number 2 was spent, so the next CRL is 3.
    assert [entry.status for entry in read_index(authority.pki_dir)] == ["R", "V", "V"]
    monkeypatch.undo()
    healed = revoke_and_publish(authority.pki_dir, now=now)
    assert healed.crl.reasons == (f"entries differ: +{serial_of(fleet['dev1'])}",) and healed.crl.number == 3
    assert [row[0] for row in crl_rows(load_crl(authority.pki_dir))] == [fleet["dev1"].serial_number]


def _hold(directory, ready, release):
    with pki_lock(directory):
        ready.set()
        release.wait(20)


def test_the_index_and_crl_change_only_under_the_pki_lock(authority, fleet, now):
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(authority.pki_dir, ready, release))
    holder.start()
    outcome = {}
    try:
        assert ready.wait(10)
        files = snapshot(authority.pki_dir)
        worker = threading.Thread(target=lambda: outcome.update(
            result=revoke_and_publish(authority.pki_dir, hosts=["dev1"], now=now)))
        worker.start()
        worker.join(1.0)
        assert worker.is_alive(), "revocation went ahead while another process held the lock"
        assert snapshot(authority.pki_dir) == files
    finally:
        release.set()
        holder.join(10)
    worker.join(20)
    assert [item.serial for item in outcome["result"].revoked] == [serial_of(fleet["dev1"])]


def _revoke_in_child(pki_dir, host):
    revoke_and_publish(pki_dir, hosts=[host], reason="keyCompromise")


def test_concurrent_revocations_all_land(authority, now):
    hosts = [f"dev{number}" for number in range(8)]
    for host in hosts:
        sign(authority, host, now)
    workers = [multiprocessing.Process(target=_revoke_in_child, args=(authority.pki_dir, host)) for host in hosts]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert all(worker.exitcode == 0 for worker in workers)
    assert [entry.status for entry in read_index(authority.pki_dir)] == ["R"] * len(hosts)
    crl = load_crl(authority.pki_dir)
    assert len(crl) == len(hosts)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == len(hosts)


# --- cross-checks with the openssl CLI --------------------------------------------------------------------------

def openssl_config(tmp_path, pki_dir, authority):
    config = tmp_path / f"ca-{os.path.basename(pki_dir)}.cnf"
    config.write_text(
        f"[ca]\ndefault_ca = fleet\n[fleet]\ndatabase = {os.path.join(pki_dir, 'index.txt')}\n"
        f"certificate = {authority.cert_path}\nprivate_key = {authority.key_path}\n"
        f"crlnumber = {os.path.join(pki_dir, 'crlnumber')}\n"
        f"new_certs_dir = {tmp_path}\ndefault_md = sha256\ndefault_crl_days = 30\npolicy = any\n[any]\ncommonName = supplied\n")
    return str(config)


def openssl(*args):
    result = subprocess.run([OPENSSL, *args], capture_output=True, text=True, check=False)
    return result.returncode, result.stdout + result.stderr


def write_pem(tmp_path, name, certificate):
    path = tmp_path / f"{name}.pem"
    path.write_text(to_pem(certificate))
    return str(path)


@needs_openssl
@pytest.mark.parametrize("reason", ["keyCompromise", "cACompromise", "cessationOfOperation", "unspecified"])
def test_our_revoked_line_is_the_line_openssl_ca_writes(authority, fleet, tmp_path, reason):
    theirs = str(tmp_path / "theirs")
    shutil.copytree(authority.pki_dir, theirs)
    leaf = write_pem(tmp_path, "dev2", fleet["dev2"])
    arguments = ["-crl_reason", reason] if reason != "unspecified" else []
    rc, output = openssl("ca", "-config", openssl_config(tmp_path, theirs, authority), "-revoke", leaf, *arguments)
    assert rc == 0, output
    revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev2"])], reason=reason)
    ours, openssl_lines = index_bytes(authority.pki_dir).decode(), index_bytes(theirs).decode()
    stamp = re.compile(r"^(R\t\d{12}Z\t)\d{12}Z", re.M)
    assert stamp.search(ours) and ours.count("\nR\t") + ours.startswith("R\t") == 1
    assert stamp.sub(r"\1<time>", ours) == stamp.sub(r"\1<time>", openssl_lines)


@needs_openssl
def test_openssl_ca_reads_our_index_and_makes_the_same_revocation_list(authority, fleet, tmp_path):
    revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev1"])], reason="keyCompromise")
    revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev2"])], reason="cACompromise")
    revoke_and_publish(authority.pki_dir, serials=[serial_of(fleet["dev3"])])
    config = openssl_config(tmp_path, authority.pki_dir, authority)
    for host, status in (("dev1", "Revoked"), ("dev3", "Revoked")):
        _rc, output = openssl("ca", "-config", config, "-status", serial_of(fleet[host]))
        assert f"{serial_of(fleet[host])}={status} (R)" in output, output
    theirs = str(tmp_path / "theirs")
    shutil.copytree(authority.pki_dir, theirs)
    out = str(tmp_path / "openssl-crl.pem")
    rc, output = openssl("ca", "-config", openssl_config(tmp_path, theirs, authority), "-gencrl", "-out", out)
    assert rc == 0, output
    openssl_crl = x509.load_pem_x509_crl(read(out))
    ours = load_crl(authority.pki_dir)
    assert crl_rows(openssl_crl) == crl_rows(ours)
    assert len(crl_rows(ours)) == 3
    # openssl ca took its number from our crlnumber file: ours was 3, so openssl's is 4.
    assert openssl_crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 4
    rc, text = openssl("crl", "-in", os.path.join(authority.pki_dir, "crl.pem"), "-noout", "-text")
    assert rc == 0, text
    for host in ("dev1", "dev2", "dev3"):
        assert f"Serial Number: {serial_of(fleet[host])}" in text
    assert "Key Compromise" in text and "CA Compromise" in text and text.count("X509v3 CRL Reason Code") == 2
    assert "X509v3 CRL Number: \n                3" in text


@needs_openssl
def test_openssl_verify_with_crl_check_accepts_then_refuses(authority, tmp_path):
    certificate = sign(authority, "dev1")
    leaf = write_pem(tmp_path, "dev1", certificate)
    crl = os.path.join(authority.pki_dir, "crl.pem")
    command = ["verify", "-crl_check", "-CAfile", authority.cert_path, "-CRLfile", crl, leaf]
    revoke_and_publish(authority.pki_dir)
    rc, output = openssl(*command)
    assert rc == 0 and f"{leaf}: OK" in output, output
    revoke_and_publish(authority.pki_dir, hosts=["dev1"], reason="keyCompromise")
    rc, output = openssl(*command)
    assert rc != 0 and "certificate revoked" in output, output
    rc, text = openssl("crl", "-inform", "DER", "-in", os.path.join(authority.pki_dir, "crl.der"), "-noout", "-text")
    assert rc == 0 and f"Serial Number: {serial_of(certificate)}" in text and "Key Compromise" in text, text
