# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import os
import subprocess

import pytest
from cryptography import x509

from ansible_collections.fleet.pki.plugins.module_utils._authority import AuthoritySettings, ensure_authority, load_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_renewal import (
    ca_renewal_reason,
    renew_ca_certificate,
    superseded_path,
)
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import is_issued_by, to_pem
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key

DAY = datetime.timedelta(days=1)


def _leaf(authority, now):
    key = generate_private_key("ec-p256")
    request = LeafRequest("cam-01", (("IP", "10.20.0.1"),), "server", 365)
    return issue(authority, authority.private_key(), key.public_key(), request, now)


def test_not_due_while_more_than_renew_before_is_left(authority, now):
    assert ca_renewal_reason(authority.certificate, "20%", now) is None
    assert ca_renewal_reason(authority.certificate, "365", now + 3000 * DAY) is None


def test_due_inside_renew_before_in_percent_and_days(authority, now):
    reason = ca_renewal_reason(authority.certificate, "20%", now + 2950 * DAY)
    assert reason.startswith("the CA certificate has 700 days left") and reason.endswith("renew_before is 20% of the lifetime")
    assert "renew_before is 800 days" in ca_renewal_reason(authority.certificate, "800", now + 2900 * DAY)
    assert ca_renewal_reason(authority.certificate, "20%", now + 3700 * DAY).startswith("the CA certificate expired on")


def test_a_threshold_that_would_renew_every_run_is_refused(authority, now):
    with pytest.raises(FleetPkiError, match="must be a percentage below 100%"):
        ca_renewal_reason(authority.certificate, "100%", now)
    with pytest.raises(FleetPkiError, match="not shorter than validity_days"):
        ca_renewal_reason(authority.certificate, "4000", now)


def test_renewal_keeps_subject_key_and_extensions_and_moves_the_validity(authority, now):
    later = now + 2950 * DAY
    old = authority.certificate
    renewed = renew_ca_certificate(authority, None, 3650, later).certificate
    assert renewed.subject == old.subject and renewed.issuer == old.subject
    assert renewed.public_key() == old.public_key()
    assert renewed.serial_number != old.serial_number
    assert [(e.oid, e.critical, e.value) for e in renewed.extensions] == [(e.oid, e.critical, e.value) for e in old.extensions]
    assert renewed.not_valid_after_utc == later + 3650 * DAY
    assert ca_renewal_reason(renewed, "20%", later) is None
    # What ca/ca.crt now holds, and the old certificate kept by its trust label.
    assert load_authority(authority.pki_dir).certificate == renewed
    with open(superseded_path(authority), "rb") as handle:
        assert x509.load_pem_x509_certificate(handle.read()) == old
    assert os.path.basename(superseded_path(authority)) == authority.label + ".crt"


def test_leaves_issued_before_verify_under_the_renewed_certificate_with_openssl(authority, now, tmp_path):
    leaf = _leaf(authority, now)
    renewed = renew_ca_certificate(authority, None, 3650, now + 10 * DAY).certificate
    assert is_issued_by(leaf, renewed)
    (tmp_path / "new-ca.pem").write_text(to_pem(renewed))
    (tmp_path / "leaf.pem").write_text(to_pem(leaf))
    # Only the renewed CA certificate is trusted: the old leaf still verifies (independent check by openssl).
    at = str(int((now + 11 * DAY).timestamp()))  # the fixed clock of the tests, not today's
    proc = subprocess.run(["openssl", "verify", "-attime", at, "-CAfile", str(tmp_path / "new-ca.pem"), str(tmp_path / "leaf.pem")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_passphrase_protected_key_needs_its_passphrase(tmp_path, now):
    pki_dir = str(tmp_path / "pki")
    ca, _changed, _notes = ensure_authority(pki_dir, AuthoritySettings(common_name="Locked CA"), passphrase="s3cret", now=now)
    with pytest.raises(FleetPkiError, match="encrypted: set the CA passphrase"):
        renew_ca_certificate(ca, None, 3650, now)
    with pytest.raises(FleetPkiError, match="passphrase is wrong"):
        renew_ca_certificate(ca, "wrong", 3650, now)
    assert load_authority(pki_dir).certificate == ca.certificate  # nothing written on failure
    assert not os.path.exists(superseded_path(ca))
    assert renew_ca_certificate(ca, "s3cret", 3650, now).certificate.public_key() == ca.certificate.public_key()


def test_a_key_that_does_not_match_the_certificate_is_refused(authority, tmp_path, now):
    other, _changed, _notes = ensure_authority(str(tmp_path / "other"), AuthoritySettings(common_name="Other"), now=now)
    with open(os.path.join(other.pki_dir, "ca", "ca.key"), "rb") as handle:
        foreign = handle.read()
    with open(os.path.join(authority.pki_dir, "ca", "ca.key"), "wb") as handle:
        handle.write(foreign)
    with pytest.raises(FleetPkiError, match="does not match the CA certificate"):
        renew_ca_certificate(authority, None, 3650, now)
