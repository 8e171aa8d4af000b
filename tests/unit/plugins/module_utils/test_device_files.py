# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import os
import stat
import subprocess

import pytest

from ansible_collections.fleet.pki.plugins.module_utils import _key_match
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._crypto import serialization
from ansible_collections.fleet.pki.plugins.module_utils._device_files import ROLES, FileSpec, converge, parse_mode, report
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def leaf(authority):
    key = generate_private_key("ec-p256")
    cert = issue(authority, authority.private_key(), key.public_key(), LeafRequest("d1", (("IP", "10.0.0.1"),), "server", 30))
    return key_pem(key), to_pem(cert)


@pytest.fixture
def specs(tmp_path):
    return {role: FileSpec(str(tmp_path / "tls" / f"{role}.pem"), 0o600 if role == "key" else 0o644) for role in ROLES}


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_install_then_nothing_to_do(specs, leaf, authority):
    key, cert = leaf
    assert converge(specs, {"key": key, "cert": cert, "chain": authority.pem}) == (list(ROLES), [])
    assert open(specs["fullchain"].path, encoding="utf-8").read() == cert + authority.pem
    assert mode(specs["key"].path) == 0o600 and mode(specs["cert"].path) == 0o644
    assert converge(specs, {"chain": authority.pem}) == ([], [])
    assert report(specs) == {"certificate": cert, "key_state": "matches"}


def test_check_mode_reports_and_writes_nothing(specs, leaf, authority):
    key, cert = leaf
    assert converge(specs, {"key": key, "cert": cert, "chain": authority.pem}, check_mode=True)[0] == list(ROLES)
    assert not os.path.exists(os.path.dirname(specs["key"].path))


def test_modes_are_fixed_without_rewriting(specs, leaf, authority):
    key, cert = leaf
    converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    os.chmod(specs["key"].path, 0o644)
    inode = os.stat(specs["key"].path).st_ino
    assert converge(specs, {"chain": authority.pem}) == ([], ["key"])
    assert mode(specs["key"].path) == 0o600 and os.stat(specs["key"].path).st_ino == inode


def test_a_new_chain_rewrites_chain_and_fullchain_only(specs, leaf, authority):
    key, cert = leaf
    converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    assert converge(specs, {"chain": authority.pem + authority.pem}) == (["chain", "fullchain"], [])


def test_report_key_states(specs, leaf, authority):
    key, cert = leaf
    assert report(specs) == {"certificate": None, "key_state": "missing"}
    converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    converge(specs, {"key": key_pem(generate_private_key("ec-p256")), "cert": cert})
    assert report(specs)["key_state"] == "mismatch"
    with open(specs["key"].path, "w", encoding="utf-8") as handle:
        handle.write("garbage")
    assert report(specs)["key_state"] == "unreadable"


@pytest.mark.parametrize("matching", [True, False])
def test_openssl_fallback_without_cryptography(specs, leaf, authority, monkeypatch, matching):
    key, cert = leaf
    if not matching:
        key = key_pem(generate_private_key("rsa-2048"))
    converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    monkeypatch.setattr(_key_match, "HAS_CRYPTOGRAPHY", False)
    assert report(specs)["key_state"] == "unknown"  # no way to ask openssl
    assert report(specs, run_openssl)["key_state"] == ("matches" if matching else "mismatch")


def run_openssl(args, data=None):
    """What AnsibleModule.run_command does, for the test: run the real openssl."""
    result = subprocess.run(args, input=data, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout, result.stderr


def test_parse_mode():
    assert parse_mode("0640", "key_mode") == 0o640
    assert parse_mode(0o600, "key_mode") == 0o600
    with pytest.raises(FleetPkiError, match="key_mode 'rw' is not an octal file mode"):
        parse_mode("rw", "key_mode")


# Planted links where a key is written (issue 8): refused before anything is read or written; the target is untouched.
@pytest.fixture
def planted(tmp_path):
    """A file outside the destination that a link will point at, owned and moded as a secret would be."""
    target = tmp_path / "outside" / "shadow"
    target.parent.mkdir()
    target.write_text("root:precious\n")
    os.chmod(target, 0o640)
    return target


def snapshot(path):
    return path.read_text(), mode(str(path)), os.stat(path).st_ino


@pytest.mark.parametrize("role", ROLES)
def test_a_link_in_place_of_a_file_is_refused_and_its_target_untouched(specs, leaf, authority, planted, role):
    key, cert = leaf
    os.makedirs(os.path.dirname(specs[role].path))
    os.symlink(planted, specs[role].path)
    before = snapshot(planted)
    for attempt in (lambda: converge(specs, {"key": key, "cert": cert, "chain": authority.pem}),
                    lambda: converge(specs, {"chain": authority.pem}),  # the attributes pass would chmod the target
                    lambda: converge(specs, {"chain": authority.pem}, check_mode=True),
                    lambda: report(specs)):  # reading through it would return the target's content
        with pytest.raises(FleetPkiError) as error:
            attempt()
        assert f"the {role} file {specs[role].path} is a symbolic link (to {planted})" in str(error.value)
        assert "root:precious" not in str(error.value)
    assert snapshot(planted) == before and os.path.islink(specs[role].path)
    assert sorted(os.listdir(os.path.dirname(specs[role].path))) == [f"{role}.pem"]  # nothing else was written


def test_a_linked_directory_is_refused_and_nothing_lands_in_its_target(specs, leaf, authority, tmp_path):
    key, cert = leaf
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    os.symlink(elsewhere, os.path.dirname(specs["key"].path))  # like hosts/dev1 -> /etc
    with pytest.raises(FleetPkiError) as error:
        converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    assert f"the directory {os.path.dirname(specs['key'].path)} that holds" in str(error.value)
    assert f"use the real directory {elsewhere}" in str(error.value)
    assert os.listdir(elsewhere) == []


def test_an_attacker_link_is_not_replaced_silently_either(specs, leaf, authority, planted):
    """An atomic rename would replace the link without following it; refusing also makes the plant visible."""
    key, cert = leaf
    converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    os.unlink(specs["key"].path)
    os.symlink(planted, specs["key"].path)
    with pytest.raises(FleetPkiError, match="never writes through or over a link"):
        converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    assert os.path.islink(specs["key"].path) and planted.read_text() == "root:precious\n"


def test_a_full_disk_replaces_none_of_the_files(specs, leaf, authority, monkeypatch):
    key, cert = leaf
    converge(specs, {"key": key, "cert": cert, "chain": authority.pem})
    directory = os.path.dirname(specs["key"].path)
    before = _directory_contents(directory)
    new_key = key_pem(generate_private_key("ec-p256"))
    writes = []
    real_write = os.write

    def write_until_full(fd, data):
        writes.append(fd)
        if len(writes) > 1:  # the new key fits, the certificate after it does not
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write_until_full)
    with pytest.raises(FleetPkiError, match="no space left on device; the old file is unchanged"):
        converge(specs, {"key": new_key, "cert": cert.replace("A", "B", 1), "chain": authority.pem})
    monkeypatch.undo()
    assert _directory_contents(directory) == before  # the old key and certificate, and no temp file left


def _directory_contents(directory):
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}
