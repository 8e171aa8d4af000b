# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile and broken input through the whole playbook path: a clear error that names the host (or, for a problem of
the CA, the path) and the value, and nothing written: the state directory (PKI directory, devices, clients) is the
same, byte for byte and mode for mode, before and after. The many small variants are unit tests of the core
(test_names.py, test_host_settings.py, test_authority.py, test_device_files.py, test_atomic_files.py); here is one
row per category. Two cases are deliberately not errors: a garbage or foreign certificate on a device is replaced,
with the reason in the summary; and an expired CA is renewed by provision.yml's authority role (only signing with it
is refused).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEVICE_ROLE_ONLY = """\
- name: Issue and deliver device certificates, without the authority role before
  hosts: devices
  gather_facts: false
  roles:
    - role: fleet.pki.device
"""


def snapshot(root):
    """{relative path: (mode, SHA-256 of the content, or link target)} of every file, directory and link under `root`.

    A digest, not the bytes: a failed comparison must not print the keys it compared."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = ("link", os.readlink(path))
            elif name in files:
                with open(path, "rb") as handle:
                    found[os.path.relpath(path, root)] = (oct(info.st_mode), hashlib.sha256(handle.read()).hexdigest())
            else:
                found[os.path.relpath(path, root)] = (oct(info.st_mode), None)
    return found


def says(output, message):
    """The message is in the output, however the YAML callback wrapped or quoted it."""
    flat = " ".join(output.split())
    return any(" ".join(variant.split()) in flat for variant in (message, message.replace("'", "''")))


def provision_first(fleet, hosts="dev1:laptop"):
    fleet.playbook("--limit", hosts)
    return snapshot(fleet.state)


BAD_INPUT = [
    ("ansible_host", {"dev2": {"ansible_host": "300.1.1.1"}}, "host dev2: ansible_host '300.1.1.1' is neither a valid IP address nor a DNS name"),
    ("duplicate IP", {"dev2": {"ansible_host": "127.0.0.21"}}, "IP 127.0.0.21 is claimed by more than one host: dev1, dev2"),
    ("RSA 1024", {"dev2": {"fleet_pki_key_type": "rsa-1024"}}, "host dev2: key type 'rsa-1024' is refused: RSA below 2048"),
    ("validity", {"dev2": {"fleet_pki_validity_days": 900}}, "host dev2: validity_days 900 is over 825"),
    ("IP SAN", {"dev2": {"fleet_pki_ip_addresses": ["10.0.0.300"]}},
     "host dev2: fleet_pki_ip_addresses entry '10.0.0.300' is not an IP address"),
    ("IDN SAN", {"dev2": {"fleet_pki_dns_names": ["b\u00fccher.fleet.example"]}},
     "host dev2: fleet_pki_dns_names entry 'b\u00fccher.fleet.example' is an internationalised name; give its ASCII"),
    ("label over 63", {"dev2": {"ansible_host": "a" * 64 + ".fleet.example"}},
     "host dev2: ansible_host '" + "a" * 64 + ".fleet.example' is not a valid DNS name: label '" + "a" * 64 + "' must be 1-63"),
    ("name over 253", {"dev2": {"fleet_pki_dns_names": [".".join(["b" * 63] * 4)]}},
     "host dev2: fleet_pki_dns_names entry '" + "b" * 40 + "...' is 255 characters long; a DNS name has at most 253"),
    ("duplicate IP SAN", {"dev3": {"fleet_pki_ip_addresses": ["127.0.0.22"]}},
     "IP 127.0.0.22 is claimed by more than one host: dev2, dev3"),
    ("unknown key type", {"dev2": {"fleet_pki_key_type": "ed25519"}}, "host dev2: key type 'ed25519' is not one of ec-p256"),
    ("validity zero", {"dev2": {"fleet_pki_validity_days": 0}}, "host dev2: validity_days 0 must be at least 1"),
]


@pytest.mark.parametrize("case, host_vars, message", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_names_host_and_value_and_writes_nothing(fleet, case, host_vars, message):
    del case
    everything = provision_first(fleet)
    before = sorted(os.listdir(os.path.join(fleet.pki_dir, "hosts")))
    index = open(os.path.join(fleet.pki_dir, "index.txt"), encoding="utf-8").read()
    for name, values in host_vars.items():
        values = dict(values)
        fleet.devices[name] = values.pop("ansible_host", fleet.devices[name])
        fleet.host_vars[name].update(values)
    fleet.write()
    rc, output = fleet.playbook(check=False)
    assert rc != 0 and message in output, output
    assert sorted(os.listdir(os.path.join(fleet.pki_dir, "hosts"))) == before
    assert open(os.path.join(fleet.pki_dir, "index.txt"), encoding="utf-8").read() == index
    assert not os.path.exists(os.path.join(fleet.state, "devices", "dev2"))
    assert snapshot(fleet.state) == everything


def test_bad_input_on_a_new_fleet_writes_nothing_at_all(fleet):
    fleet.host_vars["dev2"]["fleet_pki_key_type"] = "rsa-1024"
    fleet.write()
    rc, output = fleet.playbook(check=False)
    assert rc != 0 and "host dev2: key type 'rsa-1024' is refused: RSA below 2048" in output, output
    assert not os.path.exists(fleet.state), sorted(snapshot(fleet.state))


def test_wrong_passphrase_and_foreign_ca_key_are_refused(fleet):
    fleet.group_vars["fleet_pki_ca_passphrase"] = "right-canary-4410"
    fleet.write()
    fleet.playbook("--limit", "dev1:laptop")
    everything = snapshot(fleet.state)
    fleet.group_vars["fleet_pki_ca_passphrase"] = "wrong-canary-5521"
    fleet.write()
    rc, output = fleet.playbook(check=False)
    assert rc != 0 and "the CA passphrase is wrong" in output, output
    assert "canary" not in output
    assert not os.path.exists(os.path.join(fleet.state, "devices", "dev2"))
    assert snapshot(fleet.state) == everything

    ca_key = os.path.join(fleet.pki_dir, "ca", "ca.key")
    with open(ca_key, "w", encoding="utf-8") as handle:
        handle.write(open(fleet.device_file("dev1", "key"), encoding="utf-8").read())  # a key of another certificate
    fleet.group_vars.pop("fleet_pki_ca_passphrase")
    fleet.write()
    everything = snapshot(fleet.state)
    rc, output = fleet.playbook(check=False)
    assert rc != 0 and "does not match the CA certificate" in output, output
    assert snapshot(fleet.state) == everything

    with open(ca_key, "r+", encoding="utf-8") as handle:  # a copy cut short: without END, it is not a key at all
        lines = handle.read().splitlines(keepends=True)
        handle.seek(0)
        handle.truncate()
        handle.write("".join(lines[:2]))
    everything = snapshot(fleet.state)
    rc, output = fleet.playbook(check=False)
    assert rc != 0 and says(output, f"CA key {ca_key} is not a readable private key: it is truncated"), output
    assert "PRIVATE KEY" not in output
    assert snapshot(fleet.state) == everything


def test_unreadable_pki_directory_is_named(fleet):
    fleet.playbook("--limit", "dev1:laptop")
    os.chmod(fleet.pki_dir, 0)
    # Root reads everything; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH it obeys modes like anyone else.
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    try:
        rc, output = fleet.playbook(check=False, wrap=drop if os.geteuid() == 0 else ())
    finally:
        os.chmod(fleet.pki_dir, 0o700)
    assert rc != 0 and f"PKI directory {fleet.pki_dir} is not readable" in output, output


def test_a_pki_directory_open_to_others_is_refused_like_an_unprotected_ssh_key(fleet):
    provision_first(fleet)
    ca_dir = os.path.join(fleet.pki_dir, "ca")
    for path, mode, message in [
        (os.path.join(ca_dir, "ca.key"), 0o644, "is open to group or others (mode 0644); like ssh with an unprotected "
                                                "private key file, fleet.pki refuses to use it. Fix it with: chmod 600 {path}"),
        (ca_dir, 0o770, "CA directory {path} is writable by group or others (mode 0770)"),
        (fleet.pki_dir, 0o777, "PKI directory {path} is writable by group or others (mode 0777)"),
    ]:
        original = os.stat(path).st_mode & 0o7777
        os.chmod(path, mode)
        everything = snapshot(fleet.state)
        try:
            rc, output = fleet.playbook(check=False)
            after = snapshot(fleet.state)
        finally:
            os.chmod(path, original)
        assert rc != 0 and says(output, message.format(path=path)), output
        assert after == everything, path  # dev2..dev5 got nothing, the client bundle is the same
    fleet.playbook()  # put back as it was, the fleet provisions again


def _expired_copy(fleet):
    """ca.crt re-signed by its own key with a validity that ended yesterday: the same CA, expired."""
    cert_path = os.path.join(fleet.pki_dir, "ca", "ca.crt")
    with open(cert_path, "rb") as handle:
        old = x509.load_pem_x509_certificate(handle.read())
    with open(os.path.join(fleet.pki_dir, "ca", "ca.key"), "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(old.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=400))
               .not_valid_after(now - datetime.timedelta(days=1)))
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    with open(cert_path, "wb") as handle:
        handle.write(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return cert_path


def test_an_expired_ca_is_not_used_to_sign_and_provision_renews_it(fleet, tmp_path):
    provision_first(fleet)
    cert_path = _expired_copy(fleet)
    everything = snapshot(fleet.state)
    playbook = tmp_path / "device-only.yml"
    playbook.write_text(DEVICE_ROLE_ONLY)
    rc, output = fleet.playbook("--limit", "dev2", playbook=str(playbook), check=False)
    assert rc != 0 and says(output, f"host dev2: the CA certificate {cert_path} expired on"), output
    assert says(output, "refusing to sign with it") and "docs/ca-rotation.md" in output, output
    assert snapshot(fleet.state) == everything

    # The way out that provision.yml takes by itself: its authority role renews the CA with the same key first.
    _rc, output = fleet.playbook("--limit", "dev2:laptop")
    assert says(output, "renewed the CA certificate with the same key (the CA certificate expired on"), output
    result = subprocess.run(["openssl", "verify", "-CAfile", cert_path, fleet.device_file("dev2", "cert")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def _foreign_leaf(address):
    """A key and a certificate for `address` from some other CA (someone else's)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev2")]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else's CA")]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=300))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()), certificate.public_bytes(serialization.Encoding.PEM))


def test_a_garbage_or_foreign_certificate_on_a_device_is_replaced_and_the_reason_named(fleet):
    """Deliberately not an error: the device is ours to manage, and failing would leave it broken on every run."""
    fleet.playbook("--limit", "dev1:dev2:dev3:laptop")
    dev1_cert = open(fleet.device_file("dev1", "cert"), "rb").read()
    key_pem, cert_pem = _foreign_leaf(fleet.devices["dev2"])
    for role, data in (("key", key_pem), ("cert", cert_pem)):
        with open(fleet.device_file("dev2", role), "wb") as handle:
            handle.write(data)
    with open(fleet.device_file("dev3", "cert"), "wb") as handle:
        handle.write(os.urandom(700))
    _rc, output = fleet.playbook("--limit", "dev1:dev2:dev3:laptop")
    summary = output.split("FLEET.PKI SUMMARY", 1)[1]
    assert re.search(r"^dev2\s+\w+\s+not signed by the current CA", summary, re.M), summary
    assert re.search(r"^dev3\s+\w+\s+unreadable: the certificate on the host is not a readable PEM certificate", summary,
                     re.M), summary
    assert re.search(r"^dev1\s+kept", summary, re.M), summary
    for name in ("dev2", "dev3"):
        result = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(fleet.pki_dir, "ca", "ca.crt"),
                                 fleet.device_file(name, "cert")], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (name, result.stderr)
    assert open(fleet.device_file("dev1", "cert"), "rb").read() == dev1_cert


@pytest.fixture
def planted(tmp_path):
    """A file outside the fleet that a planted link points at, as /etc/shadow would be."""
    target = tmp_path / "outside" / "shadow"
    target.parent.mkdir()
    target.write_text("root:precious-canary-3307\n")
    os.chmod(target, 0o640)
    return target


def test_a_link_planted_on_a_device_is_refused_and_its_target_untouched(fleet, planted, tmp_path):
    fleet.playbook("--limit", "dev1:dev2:laptop")
    key = fleet.device_file("dev2", "key")
    os.unlink(key)
    os.symlink(planted, key)
    everything, target = snapshot(fleet.state), (planted.read_text(), os.stat(planted).st_mode)
    rc, output = fleet.playbook("--limit", "dev1:dev2:laptop", check=False)
    assert rc != 0 and says(output, f"host dev2: delivery failed: the key file {key} is a symbolic link (to {planted})"), output
    assert says(output, "Nothing was written: remove the link, or set key_path to the real file"), output
    assert "precious-canary" not in output
    assert (planted.read_text(), os.stat(planted).st_mode) == target
    assert snapshot(fleet.state) == everything

    # A linked directory on the way (the device's destination points somewhere else): refused the same way.
    dest = os.path.dirname(fleet.device_file("dev1", "key"))
    elsewhere = tmp_path / "elsewhere"
    os.rename(dest, elsewhere)
    os.symlink(elsewhere, dest)
    everything, moved = snapshot(fleet.state), snapshot(elsewhere)
    rc, output = fleet.playbook("--limit", "dev1:laptop", check=False)
    assert rc != 0 and says(output, f"host dev1: delivery failed: the directory {dest} that holds"), output
    assert says(output, f"use the real directory {elsewhere}"), output
    assert snapshot(fleet.state) == everything and snapshot(elsewhere) == moved


def test_a_link_planted_in_the_pki_directory_is_refused_and_its_target_untouched(fleet, planted, tmp_path):
    fleet.host_vars["dev5"]["fleet_pki_delivery"] = "artifacts"
    fleet.write()
    fleet.playbook("--limit", "dev5:laptop")
    directory = os.path.join(fleet.pki_dir, "hosts", "dev5")
    key = os.path.join(directory, "key.pem")
    os.unlink(key)
    os.symlink(planted, key)
    everything, target = snapshot(fleet.state), (planted.read_text(), os.stat(planted).st_mode)
    rc, output = fleet.playbook("--limit", "dev5:laptop", check=False)
    assert rc != 0 and says(output, f"host dev5: the key file {key} is a symbolic link (to {planted})"), output
    assert "precious-canary" not in output
    assert (planted.read_text(), os.stat(planted).st_mode) == target
    assert snapshot(fleet.state) == everything

    # hosts/dev5 -> a directory elsewhere (like /etc): nothing lands there.
    os.unlink(key)
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    os.rename(directory, tmp_path / "dev5-was-here")
    os.symlink(elsewhere, directory)
    everything = snapshot(fleet.state)
    rc, output = fleet.playbook("--limit", "dev5:laptop", check=False)
    assert rc != 0 and says(output, f"host dev5: the host directory {directory} is a symbolic link (to {elsewhere})"), output
    assert os.listdir(elsewhere) == [] and snapshot(fleet.state) == everything

    # <pki_dir>/hosts -> elsewhere: caught too, for a host whose own directory does not exist there yet.
    os.unlink(directory)
    hosts = os.path.dirname(directory)
    os.rename(hosts, tmp_path / "hosts-was-here")
    os.symlink(elsewhere, hosts)
    everything = snapshot(fleet.state)
    rc, output = fleet.playbook("--limit", "dev5:laptop", check=False)
    assert rc != 0 and says(output, f"host dev5: the directory {hosts} that holds {directory} is a symbolic link"), output
    assert os.listdir(elsewhere) == [] and snapshot(fleet.state) == everything
