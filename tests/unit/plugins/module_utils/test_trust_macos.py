# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The macos store against a simulator of Apple's ``security`` tool (there is no Mac here).

The simulator keeps a keychain (certificates) and the admin trust-settings domain in memory and
answers in the output formats of the real tool: ``find-certificate -a -Z -p`` (hash lines, then
PEM), ``trust-settings-export -d`` (a plist keyed by upper-case SHA-1), and the error messages of
macOS 11+ when the administrator-password dialog cannot be shown. What it cannot tell is whether
a real Mac behaves like it: that is tested by simulation only.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import plistlib

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, der_to_pem, pem_blocks
from ansible_collections.fleet.pki.plugins.module_utils._trust_macos import (
    BASIC_POLICY_OID,
    SSL_POLICY_OID,
    SYSTEM_KEYCHAIN,
    MacosKeychain,
    parse_find_certificate,
    require_macos,
    sha1_hex,
    ssl_trusted,
)

pytest.importorskip("cryptography")
from throwaway_ca import make_ca_der  # noqa: E402


SECURITY = "/usr/bin/security"
LABEL = "Fleet_Root_CA-0123456789abcdef"
READS = ("find-certificate", "trust-settings-export")
POLICIES = {"ssl": (SSL_POLICY_OID, "sslServer"), "basic": (BASIC_POLICY_OID, "basicX509")}
GUI_REFUSALS = {
    "no-interaction": "SecTrustSettingsSetTrustSettings: The authorization was denied since no user interaction was possible.",
    "internal-component": "SecTrustSettingsSetTrustSettings: errSecInternalComponent",
}


def upper_hex(data, algorithm):
    return hashlib.new(algorithm, data).hexdigest().upper()


class FakeSecurity:
    """An in-memory System keychain plus admin trust settings behind the ``security`` command line.

    refuse: None, or a key of GUI_REFUSALS: trust-settings changes then fail as on macOS 11+ without a
    screen, after the certificate itself was added to the keychain (as the real tool does).
    """

    def __init__(self, keychain=SYSTEM_KEYCHAIN, refuse=None):
        self.keychain = keychain
        self.certificates = []          # DER, in keychain order
        self.trust = {}                 # upper-case SHA-1 -> trustSettings array
        self.refuse = refuse
        self.calls = []                 # argv lists
        self.files_seen = []            # temporary files given to security, with their content then
        self.ignore = set()             # subcommands that answer success and do nothing

    # --- state helpers for the tests -----------------------------------------------------

    def put(self, der, settings=None):
        if der not in self.certificates:
            self.certificates.append(der)
        if settings is not None:
            self.trust[upper_hex(der, "sha1")] = settings

    @staticmethod
    def policy(name, result=1):
        oid, policy_name = POLICIES[name]
        return {"kSecTrustSettingsPolicy": oid, "kSecTrustSettingsPolicyName": policy_name,
                "kSecTrustSettingsResult": result}

    def mutations(self):
        return [argv for argv in self.calls if argv[1] not in READS]

    # --- the command line -----------------------------------------------------------------

    def __call__(self, argv, environ_update=None, data=None):
        self.calls.append(list(argv))
        assert argv[0] == SECURITY
        command, args = argv[1], argv[2:]
        if command in self.ignore:
            return 0, "", ""
        return getattr(self, "_" + command.replace("-", "_"))(args)

    def _keychain_missing(self, path):
        if path != self.keychain:
            return 50, "", "security: SecKeychainSearchCreateFromAttributes: The specified keychain could not be found.\n"
        return None

    def _read_pem(self, path):
        with open(path) as f:
            text = f.read()
        self.files_seen.append((path, text))
        body = pem_blocks(text)[0][1]
        return base64.b64decode("".join(body.split()))

    def _find_certificate(self, args):
        assert args[:3] == ["-a", "-Z", "-p"], args
        missing = self._keychain_missing(args[3])
        if missing:
            return missing
        out = "".join("SHA-256 hash: %s\nSHA-1 hash: %s\n%s" % (upper_hex(der, "sha256"), upper_hex(der, "sha1"), der_to_pem(der))
                      for der in self.certificates)
        return 0, out, ""

    def _trust_settings_export(self, args):
        assert args[0] == "-d" and len(args) == 2, args
        if not self.trust:
            return 1, "", "SecTrustSettingsCreateExternalRepresentation: No Trust Settings were found.\n"
        entries = {}
        for key, settings in self.trust.items():
            entries[key] = {"issuerName": b"\x30\x00", "modDate": datetime.datetime(2026, 1, 2, 3, 4, 5),
                            "serialNumber": b"\x01", "trustSettings": settings}
        with open(args[1], "wb") as f:
            f.write(plistlib.dumps({"trustList": entries, "trustVersion": 1}, fmt=plistlib.FMT_XML))
        return 0, "", ""

    def _add_trusted_cert(self, args):
        assert args[0] == "-d", args
        der = self._read_pem(args[-1])
        keychain = args[args.index("-k") + 1]
        result = {"trustRoot": 1, "trustAsRoot": 2, "deny": 3, "unspecified": 4}[args[args.index("-r") + 1]]
        names = [args[i + 1] for i, arg in enumerate(args) if arg == "-p"]
        missing = self._keychain_missing(keychain)
        if missing:
            return missing
        if der not in self.certificates:
            self.certificates.append(der)  # the certificate goes in before the trust settings are asked for
        if self.refuse:
            return 1, "", GUI_REFUSALS[self.refuse] + "\n"
        self.trust[upper_hex(der, "sha1")] = [self.policy(name, result) for name in names]
        return 0, "", ""

    def _remove_trusted_cert(self, args):
        assert args[0] == "-d" and len(args) == 2, args
        key = upper_hex(self._read_pem(args[1]), "sha1")
        if key not in self.trust:
            return 1, "", "SecTrustSettingsRemoveTrustSettings: No Trust Settings were found.\n"
        if self.refuse:
            return 1, "", GUI_REFUSALS[self.refuse].replace("SetTrustSettings", "RemoveTrustSettings") + "\n"
        del self.trust[key]
        return 0, "", ""

    def _delete_certificate(self, args):
        assert args[0] == "-Z" and len(args) == 3, args
        missing = self._keychain_missing(args[2])
        if missing:
            return missing
        for der in self.certificates:
            if upper_hex(der, "sha1") == args[1]:
                self.certificates.remove(der)
                return 0, "", ""
        return 44, "", 'Unable to delete certificate matching "%s"\n' % args[1]


@pytest.fixture(scope="module")
def ours():
    return make_ca_der("Fleet Root CA")


@pytest.fixture(scope="module")
def rollover():
    # Another CA with the very same name: a re-created fleet CA, to be left alone.
    return make_ca_der("Fleet Root CA")


@pytest.fixture
def tmpdir_files(tmp_path):
    directory = tmp_path / "moduletmp"
    directory.mkdir()
    return directory


@pytest.fixture
def fake():
    return FakeSecurity()


@pytest.fixture
def store(fake, tmpdir_files):
    return MacosKeychain(fake, security=SECURITY, tmpdir=str(tmpdir_files))


def find_argv():
    return [SECURITY, "find-certificate", "-a", "-Z", "-p", SYSTEM_KEYCHAIN]


def is_export(argv, tmpdir):
    return argv[:3] == [SECURITY, "trust-settings-export", "-d"] and os.path.dirname(argv[3]) == str(tmpdir)


# --- reading ---------------------------------------------------------------------------------

def test_find_certificate_output_is_read_with_and_without_the_sha256_line(ours, rollover):
    new = "SHA-256 hash: %s\nSHA-1 hash: %s\n%s" % (upper_hex(ours, "sha256"), upper_hex(ours, "sha1"), der_to_pem(ours))
    old = "SHA-1 hash: %s\n%s" % (upper_hex(rollover, "sha1"), der_to_pem(rollover))
    assert parse_find_certificate(new + old) == [ours, rollover]
    assert parse_find_certificate("") == []


def test_sha1_is_the_upper_case_key_apple_uses(ours):
    assert sha1_hex(ours) == hashlib.sha1(ours).hexdigest().upper() and len(sha1_hex(ours)) == 40


@pytest.mark.parametrize("settings, trusted", [
    (None, False),
    ([], True),  # no policy constraints: trusted root for everything (add-trusted-cert without -p)
    ([FakeSecurity.policy("ssl"), FakeSecurity.policy("basic")], True),  # ours, and mkcert's rewrite
    ([FakeSecurity.policy("basic")], False),
    ([FakeSecurity.policy("ssl", result=3)], False),  # deny
    ([FakeSecurity.policy("ssl", result=4), FakeSecurity.policy("ssl")], True),  # unspecified does not decide
    ([dict(FakeSecurity.policy("ssl"), kSecTrustSettingsPolicyString="one.example")], False),  # one host only
    ([{"kSecTrustSettingsResult": 1}], True),  # no policy key: every policy
    ([{"kSecTrustSettingsResult": 3}, FakeSecurity.policy("ssl")], False),  # the first match decides
])
def test_ssl_trust_is_judged_like_apple_does(settings, trusted):
    assert ssl_trusted(settings) is trusted


def test_check_reads_only_and_leaves_no_file(store, fake, ours, tmpdir_files):
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is True
    assert fake.mutations() == []
    assert fake.calls[0] == find_argv() and is_export(fake.calls[1], tmpdir_files)
    assert len(fake.calls) == 2  # read once, cached until a write
    assert os.listdir(str(tmpdir_files)) == []


def test_a_certificate_without_trust_is_not_present(store, fake, ours):
    fake.put(ours)  # what a refused dialog leaves behind
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is False


def test_trust_settings_without_the_certificate_are_not_present(store, fake, ours):
    fake.trust[sha1_hex(ours)] = [FakeSecurity.policy("ssl")]
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is False


def test_another_ca_with_the_same_name_does_not_count(store, fake, ours, rollover):
    fake.put(rollover, [FakeSecurity.policy("ssl"), FakeSecurity.policy("basic")])
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is True


def test_a_missing_keychain_fails_naming_it(fake, tmpdir_files, ours):
    other = MacosKeychain(fake, security=SECURITY, keychain="/Library/Keychains/Nope.keychain", tmpdir=str(tmpdir_files))
    with pytest.raises(TrustAnchorError) as err:
        other.check(LABEL, ours, "present")
    message = str(err.value)
    assert message.startswith("store macos: security find-certificate in /Library/Keychains/Nope.keychain failed with exit code 50")
    assert "The specified keychain could not be found" in message


def test_an_unreadable_trust_export_fails_clearly(store, fake, ours, tmpdir_files):
    fake.put(ours, [FakeSecurity.policy("ssl")])

    def broken_export(args):
        return 1, "", "security: SecTrustSettingsCreateExternalRepresentation: The Trust Settings Record was corrupted.\n"
    fake._trust_settings_export = broken_export
    with pytest.raises(TrustAnchorError) as err:
        store.check(LABEL, ours, "present")
    assert "security trust-settings-export -d failed with exit code 1" in str(err.value)
    assert "Trust Settings Record was corrupted" in str(err.value)
    assert os.listdir(str(tmpdir_files)) == []


def test_location_is_the_keychain(store):
    assert store.location(LABEL) == SYSTEM_KEYCHAIN


# --- adding ----------------------------------------------------------------------------------

def test_add_runs_add_trusted_cert_with_ssl_and_basic_and_verifies(store, fake, ours, tmpdir_files):
    assert store.add(LABEL, ours) is True
    add = fake.mutations()
    assert len(add) == 1
    assert add[0][:-1] == [SECURITY, "add-trusted-cert", "-d", "-r", "trustRoot", "-p", "ssl", "-p", "basic",
                           "-k", SYSTEM_KEYCHAIN]
    pem_path, pem_text = fake.files_seen[0]
    assert add[0][-1] == pem_path and os.path.dirname(pem_path) == str(tmpdir_files)
    assert pem_text == der_to_pem(ours)
    # read, write, read again to verify
    assert [argv[1] for argv in fake.calls] == ["find-certificate", "trust-settings-export", "add-trusted-cert",
                                                "find-certificate", "trust-settings-export"]
    assert fake.certificates == [ours]
    assert fake.trust[sha1_hex(ours)] == [FakeSecurity.policy("ssl"), FakeSecurity.policy("basic")]
    assert os.listdir(str(tmpdir_files)) == []  # PEM and exported settings are gone


def test_second_add_changes_nothing(fake, tmpdir_files, ours):
    MacosKeychain(fake, security=SECURITY, tmpdir=str(tmpdir_files)).add(LABEL, ours)
    before = len(fake.mutations())
    again = MacosKeychain(fake, security=SECURITY, tmpdir=str(tmpdir_files))
    assert again.check(LABEL, ours, "present") is True
    assert again.add(LABEL, ours) is False
    assert len(fake.mutations()) == before


def test_add_keeps_another_ca_with_the_same_name(store, fake, ours, rollover):
    fake.put(rollover, [])
    assert store.add(LABEL, ours) is True
    assert fake.certificates == [rollover, ours]
    assert fake.trust[sha1_hex(rollover)] == []


def test_add_completes_a_certificate_that_lacks_trust(store, fake, ours):
    fake.put(ours)
    assert store.add(LABEL, ours) is True
    assert store.check(LABEL, ours, "present") is True


@pytest.mark.parametrize("refusal", sorted(GUI_REFUSALS))
def test_a_refused_dialog_fails_pointing_to_mdm_and_the_profile(tmpdir_files, ours, refusal):
    fake = FakeSecurity(refuse=refusal)
    store = MacosKeychain(fake, security=SECURITY, tmpdir=str(tmpdir_files))
    with pytest.raises(TrustAnchorError) as err:
        store.add(LABEL, ours)
    message = str(err.value)
    assert message.startswith("store macos: security add-trusted-cert -d -k %s was refused (exit code 1: " % SYSTEM_KEYCHAIN)
    assert GUI_REFUSALS[refusal] in message
    assert "administrator password" in message and "MDM" in message
    assert "<pki_dir>/ca/ca.mobileconfig" in message
    assert os.listdir(str(tmpdir_files)) == []
    # The certificate went in, the trust did not: still not present, and absent has work to do.
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is False


def test_the_profile_path_can_be_named(tmpdir_files, ours):
    store = MacosKeychain(FakeSecurity(refuse="no-interaction"), security=SECURITY, tmpdir=str(tmpdir_files),
                          mobileconfig="/srv/pki/ca/ca.mobileconfig")
    with pytest.raises(TrustAnchorError) as err:
        store.add(LABEL, ours)
    assert "configuration profile /srv/pki/ca/ca.mobileconfig" in str(err.value)


def test_another_failure_is_not_blamed_on_the_dialog(store, fake, ours):
    fake._add_trusted_cert = lambda args: (1, "", "SecCertificateAddToKeychain: The specified item could not be found in the keychain.\n")
    with pytest.raises(TrustAnchorError) as err:
        store.add(LABEL, ours)
    message = str(err.value)
    assert "add-trusted-cert -d -k %s failed with exit code 1: SecCertificateAddToKeychain" % SYSTEM_KEYCHAIN in message
    assert "MDM" not in message


def test_a_silent_add_failure_is_detected(store, fake, ours, tmpdir_files):
    fake.ignore.add("add-trusted-cert")
    with pytest.raises(TrustAnchorError) as err:
        store.add(LABEL, ours)
    assert "add-trusted-cert reported success, but the CA (SHA-1 %s) is not a trusted SSL root" % sha1_hex(ours) in str(err.value)
    assert os.listdir(str(tmpdir_files)) == []


# --- removing --------------------------------------------------------------------------------

def test_remove_drops_trust_then_deletes_only_ours(store, fake, ours, rollover, tmpdir_files):
    fake.put(rollover, [FakeSecurity.policy("ssl")])
    fake.put(ours, [FakeSecurity.policy("ssl"), FakeSecurity.policy("basic")])
    assert store.check(LABEL, ours, "absent") is False
    assert store.remove(LABEL, ours) is True
    mutations = fake.mutations()
    assert mutations[0][:3] == [SECURITY, "remove-trusted-cert", "-d"]
    assert fake.files_seen[0][1] == der_to_pem(ours)
    assert mutations[1] == [SECURITY, "delete-certificate", "-Z", sha1_hex(ours), SYSTEM_KEYCHAIN]
    assert len(mutations) == 2
    assert fake.certificates == [rollover] and list(fake.trust) == [sha1_hex(rollover)]
    assert store.check(LABEL, ours, "absent") is True
    assert os.listdir(str(tmpdir_files)) == []


def test_remove_when_absent_is_a_no_op(store, fake, ours, rollover):
    fake.put(rollover, [])
    assert store.remove(LABEL, ours) is False
    assert fake.mutations() == []


def test_remove_deletes_a_certificate_left_without_trust(store, fake, ours):
    fake.put(ours)
    assert store.remove(LABEL, ours) is True
    assert fake.mutations() == [[SECURITY, "delete-certificate", "-Z", sha1_hex(ours), SYSTEM_KEYCHAIN]]


def test_remove_drops_trust_settings_whose_certificate_is_gone(store, fake, ours):
    fake.trust[sha1_hex(ours)] = [FakeSecurity.policy("ssl")]
    assert store.remove(LABEL, ours) is True
    assert [argv[1] for argv in fake.mutations()] == ["remove-trusted-cert"]
    assert fake.trust == {}


def test_trust_gone_meanwhile_counts_as_removed(store, fake, ours):
    fake.put(ours, [FakeSecurity.policy("ssl")])
    real = fake._remove_trusted_cert

    def raced(args):
        fake.trust.clear()  # someone else removed it between our read and our write
        return real(args)
    fake._remove_trusted_cert = raced
    assert store.remove(LABEL, ours) is True
    assert fake.certificates == []


def test_a_refused_trust_removal_fails_clearly(tmpdir_files, ours):
    fake = FakeSecurity(refuse="no-interaction")
    fake.put(ours, [FakeSecurity.policy("ssl")])
    with pytest.raises(TrustAnchorError) as err:
        MacosKeychain(fake, security=SECURITY, tmpdir=str(tmpdir_files)).remove(LABEL, ours)
    assert "security remove-trusted-cert -d was refused" in str(err.value) and "MDM" in str(err.value)
    assert fake.certificates == [ours]  # nothing deleted after the refusal
    assert os.listdir(str(tmpdir_files)) == []


def test_a_failed_delete_names_the_fingerprint_and_the_output(store, fake, ours):
    fake.put(ours)
    fake._delete_certificate = lambda args: (1, "", "SecKeychainItemDelete: Write permissions error.\n")
    with pytest.raises(TrustAnchorError) as err:
        store.remove(LABEL, ours)
    assert ("security delete-certificate -Z %s %s failed with exit code 1: SecKeychainItemDelete: Write permissions error."
            % (sha1_hex(ours), SYSTEM_KEYCHAIN)) in str(err.value)


def test_a_certificate_deleted_meanwhile_counts_as_removed(store, fake, ours):
    fake.put(ours)
    real = fake._delete_certificate

    def raced(args):
        fake.certificates.clear()
        return real(args)  # "Unable to delete certificate matching", exit 44
    fake._delete_certificate = raced
    assert store.remove(LABEL, ours) is True


def test_a_silent_delete_failure_is_detected(store, fake, ours):
    fake.put(ours)
    fake.ignore.add("delete-certificate")
    with pytest.raises(TrustAnchorError) as err:
        store.remove(LABEL, ours)
    assert "still in %s" % SYSTEM_KEYCHAIN in str(err.value)


# --- where it runs ---------------------------------------------------------------------------

def test_only_on_macos_with_security():
    assert require_macos("Darwin", SECURITY) == SECURITY
    with pytest.raises(TrustAnchorError) as err:
        require_macos("Linux", None)
    assert str(err.value).startswith("store macos works on macOS only; this host runs Linux")
    with pytest.raises(TrustAnchorError) as err:
        require_macos("Darwin", None)
    assert "security tool (/usr/bin/security) was not found" in str(err.value)
