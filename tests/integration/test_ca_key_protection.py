# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CA key and every private key, through the real playbooks: modes under umask 000, a CA key that no option
rewrites, the passphrase from ansible-vault without a prompt, and no key or passphrase in any output or log."""

from __future__ import annotations

import base64
import glob
import json
import os
import stat
import subprocess

import pytest
from conftest import BIN, recap
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PASSPHRASE = "ca-pass-canary-5813"
WRONG_PASSPHRASE = "wrong-pass-canary-2294"
PKCS12_PASSWORD = "p12-pass-canary-7720"
UMASK_000 = ("sh", "-c", 'umask 000 && exec "$@"', "umask-000")
NO_STDIN = ("sh", "-c", 'exec "$@" </dev/null', "no-stdin")  # a prompt would read end of file and fail
# Artefact-only files that hold a key (beside key.pem): key.der, key.der.inc, the PKCS#12 and the C header.
ARTIFACT_SECRETS = {"key.pem", "key.der", "key.der.inc", "dev5.p12", "dev5.h"}


def artifact_fleet(fleet, passphrase=PASSPHRASE):
    """dev5 is artefact-only with every export format; dev4 makes its own key; the rest get controller-made keys."""
    if passphrase:
        fleet.group_vars["fleet_pki_ca_passphrase"] = passphrase
    fleet.host_vars["dev5"].update(fleet_pki_delivery="artifacts", fleet_pki_pkcs12_password=PKCS12_PASSWORD,
                                   fleet_pki_artifact_formats=["pem", "der", "der_inc", "pkcs12", "c_header"])
    fleet.host_vars["dev4"]["fleet_pki_key_location"] = "device"
    fleet.write()
    return fleet


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def walk(root):
    """(path, is_directory) of everything under `root`, the root included."""
    yield root, True
    for directory, names, files in os.walk(root):
        for name in names:
            yield os.path.join(directory, name), True
        for name in files:
            yield os.path.join(directory, name), False


def assert_pki_modes(pki_dir):
    """Directories 0700; files that hold a key (and the lock) 0600; certificates, index and CRL 0644."""
    wrong = []
    for path, is_directory in walk(pki_dir):
        name = os.path.basename(path)
        if is_directory:
            wanted = 0o700
        elif name in ("ca.key", ".lock") or name in ARTIFACT_SECRETS and "/hosts/" in path:
            wanted = 0o600
        else:
            wanted = 0o644
        if mode(path) != wanted:
            wrong.append(f"{os.path.relpath(path, pki_dir)} {oct(mode(path))} (wanted {oct(wanted)})")
    assert not wrong, wrong


def assert_device_modes(fleet):
    """On a device: key.pem (and a pending key) 0600, the public files 0644, the directory as made (0755)."""
    devices = os.path.join(fleet.state, "devices")
    assert sorted(os.listdir(devices)) == ["dev1", "dev2", "dev3", "dev4"]  # dev5 is artefact-only
    wrong = []
    for path, is_directory in walk(devices):
        name = os.path.basename(path)
        wanted = 0o755 if is_directory else 0o600 if name.startswith("key.pem") else 0o644
        if mode(path) != wanted:
            wrong.append(f"{os.path.relpath(path, devices)} {oct(mode(path))} (wanted {oct(wanted)})")
    assert not wrong, wrong


def test_every_file_and_directory_has_its_mode_under_umask_000(fleet):
    artifact_fleet(fleet)
    fleet.playbook(wrap=UMASK_000)
    assert ARTIFACT_SECRETS <= set(os.listdir(os.path.join(fleet.pki_dir, "hosts", "dev5")))
    assert_pki_modes(fleet.pki_dir)
    assert_device_modes(fleet)
    assert mode(fleet.bundle) == 0o644

    # Re-issue everything (new key type), renew, revoke and the artefact batch: the new files keep the same modes.
    fleet.playbook("-e", "fleet_pki_key_type=ec-p384", playbook="playbooks/renew.yml", wrap=UMASK_000)
    fleet.playbook("-e", "revoke_hosts=dev2", playbook="playbooks/revoke.yml", wrap=UMASK_000)
    fleet.playbook("-e", "fleet_pki_key_type=rsa-2048", playbook="playbooks/artifacts.yml", wrap=UMASK_000)
    assert b"BEGIN PRIVATE KEY" in open(os.path.join(fleet.pki_dir, "hosts", "dev5", "key.pem"), "rb").read()
    assert os.path.isfile(os.path.join(fleet.pki_dir, "crl.pem"))
    assert_pki_modes(fleet.pki_dir)
    assert_device_modes(fleet)


# ---------------------------------------------------------------------------------------------------------------
# The CA key is never rewritten


def key_identity(path):
    info = os.stat(path)
    with open(path, "rb") as handle:
        return {"bytes": handle.read(), "inode": info.st_ino, "device": info.st_dev, "mtime": info.st_mtime_ns,
                "ctime": info.st_ctime_ns, "mode": stat.S_IMODE(info.st_mode)}


def ca_files(fleet):
    return os.path.join(fleet.pki_dir, "ca", "ca.key"), os.path.join(fleet.pki_dir, "ca", "ca.crt")


CHANGED_CA_OPTIONS = ["-e", json.dumps({"authority_key_type": "rsa-3072", "authority_common_name": "Another CA",
                                        "authority_validity_days": 7300, "authority_organization": "Another Org",
                                        "authority_permitted_ip_networks": ["127.0.0.0/8"],
                                        "authority_permitted_dns_domains": ["fleet.example"]})]

# (what, extra arguments, playbook, succeeds, a text the output must hold)
RERUNS = [
    ("key type ec-p384", ["-e", "authority_key_type=ec-p384"], "provision", True, "the existing CA key is ec-p256"),
    ("key type rsa-2048", ["-e", "authority_key_type=rsa-2048"], "provision", True, "the existing CA key is ec-p256"),
    ("common name", ["-e", json.dumps({"authority_common_name": "Renamed CA"})], "provision", True, "not 'Renamed CA'"),
    ("validity", ["-e", "authority_validity_days=7300"], "provision", True, None),
    ("name constraints", ["-e", json.dumps({"authority_permitted_ip_networks": ["127.0.0.0/8"],
                                            "authority_permitted_dns_domains": ["fleet.example"]})],
     "provision", True, "other name constraints"),
    ("every CA option, check and diff", ["--check", "--diff", *CHANGED_CA_OPTIONS], "provision", True, None),
    ("passphrase removed", ["-e", "fleet_pki_ca_passphrase="], "provision", False, "is encrypted: set the CA passphrase"),
    ("passphrase wrong", ["-e", f"fleet_pki_ca_passphrase={WRONG_PASSPHRASE}"], "provision", False,
     "the CA passphrase is wrong"),
    ("CA certificate renewal", ["-e", "fleet_pki_ca_renew_before=97%"], "renew", True, "renewed the CA certificate"),
    ("renew.yml re-issuing every leaf", ["-e", "fleet_pki_key_type=ec-p384"], "renew", True, None),
    ("revocation", ["-e", "revoke_hosts=dev2", "-e", "revoke_reason=keyCompromise"], "revoke", True, None),
    ("artifacts.yml", ["-e", "fleet_pki_key_type=rsa-2048"], "artifacts", True, None),
    ("renew.yml with every CA option", CHANGED_CA_OPTIONS, "renew", True, None),
]


def test_the_ca_key_is_never_rewritten_by_any_option_or_playbook(fleet):
    artifact_fleet(fleet)
    fleet.playbook("-e", "authority_validity_days=1")  # a one-day CA, so that a renewal of its certificate is due
    key_path, cert_path = ca_files(fleet)
    original = key_identity(key_path)
    assert original["mode"] == 0o600 and b"ENCRYPTED PRIVATE KEY" in original["bytes"]
    certificate = open(cert_path, "rb").read()

    for what, arguments, playbook, succeeds, expected in RERUNS:
        rc, output = fleet.playbook(*arguments, playbook=f"playbooks/{playbook}.yml", check=False)
        assert (rc == 0) == succeeds, f"{what}: rc {rc}\n{output}"
        if expected:
            assert expected in output, f"{what}: '{expected}' not in the output\n{output}"
        assert key_identity(key_path) == original, f"{what}: the CA key file was touched"
        assert not glob.glob(os.path.join(fleet.pki_dir, "ca", ".ca.key.*")), f"{what}: a temp file of the CA key"
        if what == "CA certificate renewal":
            assert open(cert_path, "rb").read() != certificate, "the CA certificate was not renewed"
            assert os.listdir(os.path.join(fleet.pki_dir, "ca", "superseded"))

    # The explicit rotation: the current key is moved, never copied over or deleted; it keeps its inode.
    step = {name: ("-e", f"fleet_pki_rollover_step={name}") for name in ("prepare", "switch", "retire")}
    rc, output = fleet.playbook(*step["prepare"], "-e", "fleet_pki_ca_passphrase=", playbook="playbooks/rotate_ca.yml", check=False)
    assert rc != 0 and "is encrypted: set the CA passphrase" in output, output  # no unencrypted next CA key
    assert not os.path.exists(os.path.join(fleet.pki_dir, "next", "ca"))
    fleet.playbook(*step["prepare"], playbook="playbooks/rotate_ca.yml")
    assert key_identity(key_path) == original, "prepare touched the current CA key"
    next_key = key_identity(os.path.join(fleet.pki_dir, "next", "ca", "ca.key"))
    assert next_key["bytes"] != original["bytes"] and next_key["mode"] == 0o600
    fleet.playbook(*step["switch"], playbook="playbooks/rotate_ca.yml")
    assert key_identity(os.path.join(fleet.pki_dir, "previous", "ca", "ca.key")) == original
    assert key_identity(key_path) == next_key
    fleet.playbook(*step["retire"], playbook="playbooks/rotate_ca.yml")
    retired = glob.glob(os.path.join(fleet.pki_dir, "retired", "*", "ca", "ca.key"))
    assert len(retired) == 1 and key_identity(retired[0]) == original
    assert key_identity(key_path) == next_key


def test_a_passphrase_given_for_a_plain_key_is_refused_and_changes_nothing(fleet):
    fleet.playbook("--limit", "dev1:laptop")
    key_path, _cert_path = ca_files(fleet)
    original = key_identity(key_path)
    assert b"ENCRYPTED" not in original["bytes"]
    rc, output = fleet.playbook("-e", f"fleet_pki_ca_passphrase={PASSPHRASE}", check=False)
    assert rc != 0 and "is not encrypted, but a passphrase was given" in output, output
    assert PASSPHRASE not in output
    assert key_identity(key_path) == original


# ---------------------------------------------------------------------------------------------------------------
# The passphrase from ansible-vault, without a prompt


def write_vault_passphrase(fleet, tmp_path, value):
    """group_vars/all/vault.yml beside the inventory: fleet_pki_ca_passphrase as an inline !vault value."""
    password_file = tmp_path / "vault-pass"
    password_file.write_text("vault-password-canary-6409\n")
    password_file.chmod(0o600)
    encrypted = subprocess.run([os.path.join(BIN, "ansible-vault"), "encrypt_string", "--vault-password-file",
                                str(password_file), "--name", "fleet_pki_ca_passphrase", value],
                               capture_output=True, text=True, check=True).stdout
    assert "!vault" in encrypted and value not in encrypted
    group_vars = os.path.join(os.path.dirname(fleet.inventory), "group_vars", "all")
    os.makedirs(group_vars, exist_ok=True)
    with open(os.path.join(group_vars, "vault.yml"), "w", encoding="utf-8") as handle:
        handle.write("---\n" + encrypted)
    return str(password_file)


def test_the_passphrase_comes_from_ansible_vault_without_a_prompt(fleet, tmp_path):
    password_file = write_vault_passphrase(fleet, tmp_path, PASSPHRASE)
    _rc, output = fleet.playbook("--vault-password-file", password_file, wrap=NO_STDIN)
    assert PASSPHRASE not in output
    key_path, _cert_path = ca_files(fleet)
    data = open(key_path, "rb").read()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    serialization.load_pem_private_key(data, password=PASSPHRASE.encode())  # the vaulted value is the passphrase
    original = key_identity(key_path)

    # What the renewal schedule does: the password file in the environment (renewal_environment) or as an argument
    # (renewal_extra_args); no terminal, no prompt.
    _rc, output = fleet.playbook(playbook="playbooks/renew.yml", wrap=NO_STDIN,
                                 env={"ANSIBLE_VAULT_PASSWORD_FILE": password_file})
    assert all(counts["failed"] == 0 for counts in recap(output).values()), output
    _rc, output = fleet.playbook("--vault-password-file", password_file, playbook="playbooks/renew.yml", wrap=NO_STDIN)
    assert PASSPHRASE not in output

    # Without the vault password the run fails at once (no prompt to hang on) and the key stays as it is.
    rc, output = fleet.playbook(playbook="playbooks/renew.yml", wrap=NO_STDIN, check=False)
    assert rc != 0 and "vault" in output.lower(), output
    assert key_identity(key_path) == original


# ---------------------------------------------------------------------------------------------------------------
# No private key and no passphrase in any output or log


def _chunks(text, size):
    return {text[start:start + size] for start in range(0, max(len(text) - size + 1, 1), size)}


def secret_forms(pem, passphrase=None):
    """Strings whose presence in output means a leak: the PEM body lines as stored, and the private number
    in hex, base64, decimal and as C array rows (what the C and .der.inc exports print)."""
    forms = {line for line in pem.decode().splitlines() if line and not line.startswith("-----")}
    key = serialization.load_pem_private_key(pem, password=passphrase.encode() if passphrase else None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = [key.private_numbers().private_value]
        size = (key.curve.key_size + 7) // 8
    elif isinstance(key, rsa.RSAPrivateKey):
        private = key.private_numbers()
        numbers, size = [private.d, private.p, private.q], None
    else:
        raise AssertionError(f"unexpected key type {type(key)}")
    for number in numbers:
        raw = number.to_bytes(size or (number.bit_length() + 7) // 8, "big")
        forms |= _chunks(raw.hex(), 32) | _chunks(raw.hex().upper(), 32) | _chunks(str(number), 30)
        forms |= _chunks(base64.b64encode(raw).decode(), 24)
        forms |= {", ".join(f"0x{byte:02x}" for byte in raw[start:start + 8]) for start in range(0, len(raw) - 7, 8)}
        forms |= {", ".join(f"0x{byte:02X}" for byte in raw[start:start + 8]) for start in range(0, len(raw) - 7, 8)}
    plain_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    forms |= {line for line in base64.encodebytes(plain_der).decode().splitlines() if len(line) >= 40}  # MIME wrap
    return forms


def private_keys(fleet):
    """{path: PEM bytes} of every private key written: the CA key, the device keys (pending ones included) and
    the artefact-only device's key."""
    paths = [os.path.join(fleet.pki_dir, "ca", "ca.key")]
    paths += glob.glob(os.path.join(fleet.state, "devices", "*", "key.pem*"))
    paths += glob.glob(os.path.join(fleet.pki_dir, "hosts", "*", "key.pem"))
    return {path: open(path, "rb").read() for path in paths if os.path.isfile(path)}


class LeakWatch:
    """Every key seen so far and the secrets, checked against a run's output and the log file."""

    def __init__(self, fleet, log_path, secrets, ca_passphrase=PASSPHRASE):
        self.fleet, self.log_path, self.secrets = fleet, log_path, list(secrets)
        self.ca_passphrase = ca_passphrase
        self.forms = {}  # form -> the key it comes from (its path relative to the fleet's state)

    @property
    def sources(self):
        return set(self.forms.values())

    def learn_keys(self):
        for path, pem in private_keys(self.fleet).items():
            passphrase = self.ca_passphrase if path.endswith("ca.key") else None
            for form in secret_forms(pem, passphrase):
                self.forms.setdefault(form, os.path.relpath(path, self.fleet.state))

    def check(self, what, output):
        self.learn_keys()
        assert "pki/ca/ca.key" in self.sources, "the CA key was not learned: the check would be vacuous"
        for text, where in ((output, "output"), (open(self.log_path, encoding="utf-8").read(), "log file")):
            assert "PRIVATE KEY" not in text, f"{what}: 'PRIVATE KEY' in the {where}"
            for secret in self.secrets:
                assert secret not in text, f"{what}: a passphrase or password in the {where}"
            leaked = sorted({source for form, source in self.forms.items() if form in text})
            assert not leaked, f"{what}: material of {leaked} in the {where}"


def test_no_private_key_or_passphrase_in_output_or_log_at_vvv(fleet, tmp_path):
    artifact_fleet(fleet)
    log_path = str(tmp_path / "ansible.log")
    env = {"ANSIBLE_LOG_PATH": log_path}
    watch = LeakWatch(fleet, log_path, [PASSPHRASE, WRONG_PASSPHRASE, PKCS12_PASSWORD])

    runs = [
        ("provision.yml", ["-vvv"], "provision", True),
        ("provision.yml again (keeps)", ["-vvv"], "provision", True),
        ("check and diff with every certificate due", ["-vvv", "--check", "--diff", "-e", "fleet_pki_key_type=ec-p384"],
         "provision", True),
        ("renew.yml re-issuing every leaf", ["-vvv", "--diff", "-e", "fleet_pki_key_type=ec-p384"], "renew", True),
        ("artifacts.yml", ["-vvv", "--diff", "-e", "fleet_pki_key_type=rsa-2048"], "artifacts", True),
        ("revoke.yml", ["-vvv", "-e", "revoke_hosts=dev2"], "revoke", True),
        ("a wrong passphrase", ["-vvv", "-e", f"fleet_pki_ca_passphrase={WRONG_PASSPHRASE}",
                                "-e", "fleet_pki_key_type=ec-p256"], "provision", False),
        ("a wrong passphrase in check and diff mode",
         ["-vvv", "--check", "--diff", "-e", f"fleet_pki_ca_passphrase={WRONG_PASSPHRASE}"], "provision", False),
    ]
    for what, arguments, playbook, succeeds in runs:
        rc, output = fleet.playbook(*arguments, playbook=f"playbooks/{playbook}.yml", env=env, check=False)
        assert (rc == 0) == succeeds, f"{what}: rc {rc}\n{output[-3000:]}"
        if not succeeds:
            assert "the CA passphrase is wrong" in output, output[-3000:]
        watch.check(what, output)
    assert os.path.getsize(log_path) > 10000  # the log file was written, so its check means something
    # Every key was learned, the replaced ones too: the CA key, two generations of device keys (dev4's made on the
    # device), and the artefact-only device's key.
    assert {"pki/ca/ca.key", "pki/hosts/dev5/key.pem"} | {f"devices/dev{n}/key.pem" for n in range(1, 5)} <= watch.sources
    assert len(watch.forms) > 8 * 20


def test_the_check_catches_a_leaked_key(fleet, tmp_path):
    """The leak check can fail: a run that prints a device key's private number is caught."""
    fleet.playbook("--limit", "dev1:laptop")
    log_path = tmp_path / "ansible.log"
    log_path.write_text("")
    watch = LeakWatch(fleet, str(log_path), [PASSPHRASE], ca_passphrase=None)
    key = serialization.load_pem_private_key(open(fleet.device_file("dev1", "key"), "rb").read(), password=None)
    printed = f"debug: {key.private_numbers().private_value:064x}\n"
    with pytest.raises(AssertionError, match="material of"):
        watch.check("a leaking run", printed)
    with pytest.raises(AssertionError, match="PRIVATE KEY"):
        watch.check("a leaking run", "-----BEGIN PRIVATE KEY-----")


def test_ansible_debug_shows_neither_the_ca_key_nor_its_passphrase(fleet, tmp_path):
    """ANSIBLE_DEBUG prints every module's arguments (an ansible-core behaviour that no_log does not cover). The CA
    key and passphrase never leave the controller's process, and a key made on the device never travels, so with
    key_location 'device' nothing secret is in the debug output either."""
    fleet.group_vars.update(fleet_pki_ca_passphrase=PASSPHRASE, fleet_pki_key_location="device")
    fleet.write()
    log_path = str(tmp_path / "ansible.log")
    watch = LeakWatch(fleet, log_path, [PASSPHRASE])
    _rc, output = fleet.playbook("-vvv", "--limit", "dev1:dev2:laptop",
                                 env={"ANSIBLE_DEBUG": "1", "ANSIBLE_LOG_PATH": log_path})
    assert "done with _execute_module (fleet.pki.certificate_files" in output  # debug output was on
    watch.check("ANSIBLE_DEBUG with key_location device", output)
    assert {"pki/ca/ca.key", "devices/dev1/key.pem", "devices/dev2/key.pem"} <= watch.sources
