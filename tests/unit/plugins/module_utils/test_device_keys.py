# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keys made on the device (Python cryptography, or the openssl CLI when it is missing), and their CSRs."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible_collections.fleet.pki.plugins.module_utils import _atomic_files, _device_keys, _key_match
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue


class Openssl:
    """A run_command for the fallback that really runs openssl, and records what it ran."""

    def __init__(self):
        self.calls = []

    def __call__(self, args, data=None):
        self.calls.append(list(args))
        result = subprocess.run(args, input=data, capture_output=True, text=True, check=False,
                                env=dict(os.environ, LC_ALL="C"))
        return result.returncode, result.stdout, result.stderr


@pytest.fixture
def no_cryptography(monkeypatch):
    """The device's Python has no cryptography: every path that would use it must not be taken."""
    def unavailable(*_args, **_kwargs):
        raise AssertionError("cryptography used on a device that does not have it")
    monkeypatch.setattr(_device_keys, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(_key_match, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(_device_keys, "generate_private_key", unavailable)
    monkeypatch.setattr(_device_keys, "serialization", None)
    monkeypatch.setattr(_device_keys, "x509", None)
    return Openssl()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def load_key(path):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def key_body_lines(path):
    return [line for line in open(path, encoding="utf-8").read().splitlines() if line and not line.startswith("-----")]


def check_csr_for(key_path, csr_pem, common_name):
    assert "PRIVATE KEY" not in csr_pem
    assert not any(line in csr_pem for line in key_body_lines(key_path)), "the CSR carries key material"
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    assert csr.is_signature_valid
    assert csr.public_key() == load_key(key_path).public_key()
    assert csr.subject.rfc4514_string() == f"CN={common_name}"
    assert len(csr.extensions) == 0
    return csr


@pytest.mark.parametrize("key_type, expected", [
    ("ec-p256", ("ec", "secp256r1")), ("ec-p384", ("ec", "secp384r1")), ("rsa-2048", ("rsa", 2048)),
])
@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
def test_new_key_and_its_csr(tmp_path, request, backend, key_type, expected):
    runner = request.getfixturevalue("no_cryptography") if backend == "openssl" else None
    key_path = str(tmp_path / "tls" / "key.pem")
    pending = _device_keys.new_pending_key(key_path, key_type, run_command=runner)
    assert pending == key_path + ".pending" and mode(pending) == 0o600
    assert not os.path.exists(key_path), "the key in use is only replaced when its certificate arrives"
    key = load_key(pending)
    if expected[0] == "ec":
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == expected[1]
    else:
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == expected[1]
    csr = _device_keys.csr_for(pending, "cam-01", run_command=runner)
    check_csr_for(pending, csr, "cam-01")
    if backend == "openssl":
        assert [call[1] for call in runner.calls] == ["genpkey", "req"]
        assert _device_keys.backend() == "openssl"
    else:
        assert _device_keys.backend() == "cryptography"


def test_openssl_subject_is_escaped(tmp_path, no_cryptography):
    key_path = str(tmp_path / "key.pem")
    pending = _device_keys.new_pending_key(key_path, "ec-p256", run_command=no_cryptography)
    csr = x509.load_pem_x509_csr(_device_keys.csr_for(pending, "cam/01=x+y", run_command=no_cryptography).encode())
    assert [attribute.value for attribute in csr.subject] == ["cam/01=x+y"]


class WatchedOs:
    """os for _atomic_files, recording the mode of every file at its first write and at its rename."""

    def __init__(self):
        self.first_write_modes, self.rename_modes = [], []

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        self.first_write_modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return os.write(fd, data)

    def replace(self, source, destination):
        self.rename_modes.append((os.path.basename(destination), stat.S_IMODE(os.stat(source).st_mode)))
        return os.replace(source, destination)


@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
@pytest.mark.parametrize("wanted", [0o600, 0o640])
def test_the_key_has_its_final_mode_before_its_first_byte(tmp_path, monkeypatch, request, backend, wanted):
    runner = request.getfixturevalue("no_cryptography") if backend == "openssl" else None
    watched = WatchedOs()
    monkeypatch.setattr(_atomic_files, "os", watched)
    old_umask = os.umask(0)  # a permissive umask must not widen anything
    try:
        directory = tmp_path / "tls"
        pending = _device_keys.new_pending_key(str(directory / "key.pem"), "ec-p256", mode=wanted, run_command=runner)
    finally:
        os.umask(old_umask)
    assert watched.first_write_modes and set(watched.first_write_modes) == {wanted}
    assert watched.rename_modes == [("key.pem.pending", wanted)]
    assert mode(pending) == wanted
    assert os.listdir(directory) == ["key.pem.pending"], "no temp file or other copy of the key is left"


def test_owner_and_group_are_set_before_the_first_byte_and_the_rename(tmp_path, monkeypatch):
    events = []

    class Recording(WatchedOs):
        def fchown(self, fd, uid, gid):
            events.append(("fchown", uid, gid))
            return os.fchown(fd, uid, gid)

        def write(self, fd, data):
            events.append(("write",))
            return os.write(fd, data)

        def replace(self, source, destination):
            events.append(("replace",))
            return os.replace(source, destination)

    monkeypatch.setattr(_atomic_files, "os", Recording())
    _device_keys.new_pending_key(str(tmp_path / "key.pem"), "ec-p256", uid=os.getuid(), gid=os.getgid())
    assert events[0] == ("fchown", os.getuid(), os.getgid()) and events[-1] == ("replace",)
    assert set(events[1:-1]) == {("write",)}


def issue_for(authority, key_path):
    public_key = load_key(key_path).public_key()
    return to_pem(issue(authority, authority.private_key(), public_key, LeafRequest("cam-01", (("IP", "10.0.0.1"),), "server", 30)))


@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
def test_the_pending_key_takes_over_only_with_its_certificate(tmp_path, authority, request, backend):
    runner = request.getfixturevalue("no_cryptography") if backend == "openssl" else Openssl()
    key_path = str(tmp_path / "key.pem")
    old = _device_keys.new_pending_key(key_path, "ec-p256", run_command=runner)
    os.replace(old, key_path)
    old_bytes = open(key_path, "rb").read()
    pending = _device_keys.new_pending_key(key_path, "ec-p256", run_command=runner)
    pending_bytes = open(pending, "rb").read()

    stranger = tmp_path / "stranger.pem"
    _device_keys.new_pending_key(str(stranger), "ec-p256", run_command=runner)
    foreign_cert = issue_for(authority, str(stranger) + ".pending")
    with pytest.raises(FleetPkiError) as error:
        _device_keys.activate_pending_key(key_path, foreign_cert, runner)
    assert f"the certificate does not belong to the pending key {pending}" in str(error.value)
    assert open(key_path, "rb").read() == old_bytes and open(pending, "rb").read() == pending_bytes

    cert = issue_for(authority, pending)
    assert _device_keys.activate_pending_key(key_path, cert, runner) is True
    assert open(key_path, "rb").read() == pending_bytes and not os.path.exists(pending)
    assert mode(key_path) == 0o600
    assert _device_keys.activate_pending_key(key_path, cert, runner) is False  # a repeated install


def test_neither_cryptography_nor_openssl_is_a_clear_error(tmp_path, no_cryptography):
    def missing(_args, data=None):
        raise OSError("openssl not found")
    with pytest.raises(FleetPkiError) as error:
        _device_keys.new_pending_key(str(tmp_path / "key.pem"), "ec-p256", run_command=missing)
    assert str(error.value) == ("cannot make a ec-p256 key: neither Python cryptography nor the openssl command "
                                "is available")
    assert os.listdir(tmp_path) == []


def test_openssl_failure_is_reported_and_writes_nothing(tmp_path, no_cryptography):
    def failing(args, data=None):
        return 1, "", "genpkey: Error setting ec_paramgen_curve:P-256 parameter\n"
    with pytest.raises(FleetPkiError) as error:
        _device_keys.new_pending_key(str(tmp_path / "key.pem"), "ec-p256", run_command=failing)
    assert "openssl genpkey failed (exit 1): genpkey: Error setting" in str(error.value)
    assert os.listdir(tmp_path) == []


def test_rsa_1024_is_never_made(tmp_path):
    with pytest.raises(FleetPkiError) as error:
        _device_keys.new_pending_key(str(tmp_path / "key.pem"), "rsa-1024")
    assert "key type 'rsa-1024' is refused" in str(error.value)
    assert os.listdir(tmp_path) == []


def test_key_location_device_needs_device_delivery():
    settings = host_settings("cam-01", ansible_host="10.0.0.1", key_location="device")
    assert (settings.key_location, settings.delivery) == ("device", "device")
    with pytest.raises(FleetPkiError) as error:
        host_settings("cam-01", ansible_host="10.0.0.1", key_location="device", delivery="artifacts")
    assert str(error.value).startswith("host cam-01: key_location 'device' needs delivery 'device', not 'artifacts'")
    assert host_settings("cam-01", ansible_host="10.0.0.1", delivery="artifacts").key_location == "controller"
