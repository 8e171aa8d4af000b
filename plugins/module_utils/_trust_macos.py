# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.

"""Trust store backend: the macOS System keychain and the admin trust settings.

Everything goes through Apple's ``/usr/bin/security``. "Present" means two things, both needed
for Safari, Chrome and every program that uses the system verifier to accept the CA:

- the certificate is in ``/Library/Keychains/System.keychain``, and
- the admin trust-settings domain has an entry for it that makes it a trusted root for SSL.

The keychain has no label slot that ``add-trusted-cert`` fills: the identity of the CA here is
its fingerprint, and the label is not used. Only the certificate with our exact DER bytes (its
SHA-1 for ``delete-certificate -Z``) is ever touched; another CA with the same name (a rollover)
is left alone.

The ``security`` facts this relies on (from Apple's Security sources and public tool code, not run
here: this was tested against a simulator of ``security``, see tests/unit):

- ``find-certificate -a -Z -p <keychain>`` prints, per certificate, ``SHA-256 hash: <HEX>`` and
  ``SHA-1 hash: <HEX>`` (older releases: the SHA-1 line only) and then the PEM. Nothing found is
  exit 0 with no output. The PEM is compared byte for byte, so the hash lines are not relied on.
- ``trust-settings-export -d <file>`` writes the admin domain as a plist: ``trustList`` is keyed by
  the upper-case hex SHA-1 of the certificate; each entry has a ``trustSettings`` array. An empty
  array means "trusted root for every policy"; otherwise the first entry that applies to a policy
  decides (``kSecTrustSettingsResult``: 1 trustRoot, 2 trustAsRoot, 3 deny, 4 unspecified; absent
  means 1). A domain without any settings fails with "No Trust Settings were found."
- ``add-trusted-cert -d -r trustRoot -p ssl -p basic -k <keychain>`` adds the certificate and sets
  admin trust settings with exactly the two policies (sslServer, basicX509, result trustRoot) that
  mkcert and smallstep/truststore write by exporting, editing and re-importing the settings (Go
  issue 24652); here one command does it.
- Since macOS 11 (Big Sur) any change to admin trust settings asks for an administrator password
  in a dialog, even as root. Without a screen it fails, typically with "The authorization was
  denied since no user interaction was possible." or ``errSecInternalComponent``; the certificate
  itself may already be in the keychain then. Only MDM (a ``com.apple.security.root`` profile)
  trusts a CA without the dialog.
- ``remove-trusted-cert -d <pem>`` drops the admin trust settings (the certificate stays in the
  keychain) and says "No Trust Settings were found." when there were none;
  ``delete-certificate -Z <SHA-1> <keychain>`` deletes the certificate with that SHA-1.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import tempfile

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    der_to_pem,
    pem_blocks,
    pem_body_to_der,
)


SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
SECURITY = "/usr/bin/security"
# Told to the user when macOS refuses unattended trust: the profile fleet.pki.authority writes.
MOBILECONFIG_HINT = "<pki_dir>/ca/ca.mobileconfig (written by fleet.pki.authority next to the CA)"

# DER contents of the OIDs in kSecTrustSettingsPolicy: Apple's sslServer and basicX509 policies.
SSL_POLICY_OID = bytes.fromhex("2a864886f763640103")
BASIC_POLICY_OID = bytes.fromhex("2a864886f763640102")
RESULT_TRUST_ROOT = 1
RESULT_UNSPECIFIED = 4
# Entries with these keys apply to one application or one host name only: not general trust.
_NARROWING_KEYS = ("kSecTrustSettingsApplication", "kSecTrustSettingsPolicyString")

ADD_ARGS = ("add-trusted-cert", "-d", "-r", "trustRoot", "-p", "ssl", "-p", "basic", "-k")
NO_TRUST_SETTINGS = "No Trust Settings were found"
# What security prints when the admin-password dialog could not be shown or was refused.
_AUTHORIZATION_MARKERS = (
    "no user interaction was possible",
    "authorization was denied",
    "authorization was canceled",
    "user interaction is not allowed",
    "errsecinternalcomponent",
    "errauthorizationdenied",
)


def sha1_hex(der):
    """Upper-case hex SHA-1 of the DER certificate: the key of the trust settings and of delete-certificate -Z."""
    return hashlib.sha1(der).hexdigest().upper()  # nosec: an identifier Apple's tools use, not a security hash


def parse_find_certificate(text):
    """DER of every certificate in the output of ``security find-certificate -a -Z -p``.

    The hash lines are skipped: the PEM itself is compared, which also works with releases that
    print only the SHA-1 line.
    """
    try:
        return [pem_body_to_der(body) for kind, body in pem_blocks(text or "") if kind == "CERTIFICATE"]
    except TrustAnchorError as exc:
        raise TrustAnchorError("store macos: cannot read the output of security find-certificate: %s" % exc)


def ssl_trusted(settings):
    """True when a certificate's trustSettings array makes it a trusted root for SSL.

    Apple takes the first entry that applies to the policy being evaluated; entries limited to one
    application or one host name, and "unspecified" results, do not decide.
    """
    if settings is None:
        return False
    if len(settings) == 0:
        return True  # an empty array: trusted root for every policy
    for entry in settings:
        if not isinstance(entry, dict) or any(key in entry for key in _NARROWING_KEYS):
            continue
        policy = entry.get("kSecTrustSettingsPolicy")
        if policy is not None and bytes(policy) != SSL_POLICY_OID:
            continue
        result = entry.get("kSecTrustSettingsResult", RESULT_TRUST_ROOT)
        if result == RESULT_UNSPECIFIED:
            continue
        return result == RESULT_TRUST_ROOT
    return False


def require_macos(system_name, security):
    """Fail unless this is macOS with the security tool; system_name is platform.system()."""
    if system_name != "Darwin":
        raise TrustAnchorError(
            "store macos works on macOS only; this host runs %s: remove macos from stores (fleet_pki_trust_stores) "
            "for this host" % (system_name or "an unknown system")
        )
    if not security:
        raise TrustAnchorError("store macos: the security tool (%s) was not found on this Mac" % SECURITY)
    return security


class MacosKeychain:
    """The System keychain and the admin trust settings, used through ``security``.

    ``run(argv)`` runs a command and returns ``(rc, stdout, stderr)``, like
    ``AnsibleModule.run_command``. ``tmpdir`` is where the PEM and the exported trust settings are
    written for the commands that need a file; both are removed right after.
    """

    name = "macos"

    def __init__(self, run, security=SECURITY, keychain=SYSTEM_KEYCHAIN, tmpdir=None, mobileconfig=None):
        self.run = run
        self.security = security
        self.keychain = keychain
        self.tmpdir = tmpdir
        self.mobileconfig = mobileconfig or MOBILECONFIG_HINT
        self.warnings = []
        self._state = None  # (list of DER in the keychain, {SHA-1: trustSettings}), read once until the next write

    def location(self, label):
        return self.keychain

    # --- running security -----------------------------------------------------------------

    def _security(self, *args):
        return self.run([self.security] + list(args))

    @staticmethod
    def _output(out, err):
        return "\n".join(text.strip() for text in (out, err) if text and text.strip()) or "no output"

    def _failure(self, what, rc, out, err):
        output = self._output(out, err)
        if any(marker in output.lower() for marker in _AUTHORIZATION_MARKERS):
            return TrustAnchorError(
                "store macos: security %s was refused (exit code %s: %s). Since macOS 11 a change of the admin trust "
                "settings needs an administrator password typed into a dialog on the Mac's screen, even as root, and "
                "an unattended run cannot answer it. Either run the same command once in a Terminal on the Mac and "
                "confirm the dialog, or trust the CA by MDM with the configuration profile %s and remove macos from "
                "stores (fleet_pki_trust_stores) for this host" % (what, rc, output, self.mobileconfig)
            )
        return TrustAnchorError("store macos: security %s failed with exit code %s: %s" % (what, rc, output))

    def _temp_file(self, prefix, content=None):
        fd, path = tempfile.mkstemp(dir=self.tmpdir, prefix=prefix)
        with os.fdopen(fd, "w") as f:
            if content is not None:
                f.write(content)
        return path

    # --- reading --------------------------------------------------------------------------

    def _certificates(self):
        rc, out, err = self._security("find-certificate", "-a", "-Z", "-p", self.keychain)
        if rc != 0:
            raise self._failure("find-certificate in %s" % self.keychain, rc, out, err)
        return parse_find_certificate(out)

    def _admin_trust(self):
        """{upper-case SHA-1: trustSettings array} of the admin domain."""
        path = self._temp_file("fleet-pki-trust-settings-")
        try:
            rc, out, err = self._security("trust-settings-export", "-d", path)
            if rc != 0:
                if NO_TRUST_SETTINGS in self._output(out, err):
                    return {}
                raise self._failure("trust-settings-export -d", rc, out, err)
            with open(path, "rb") as f:
                data = f.read()
        finally:
            os.unlink(path)
        try:
            root = plistlib.loads(data)
            trust_list = root.get("trustList", {})
            return {str(key).upper(): entry.get("trustSettings", []) for key, entry in trust_list.items()}
        except Exception as exc:  # plistlib raises several types for a bad file
            raise TrustAnchorError("store macos: cannot read the admin trust settings exported by security: %s" % exc)

    def state(self):
        """(DER list of the keychain, {SHA-1: trustSettings} of the admin domain); read once until the next write."""
        if self._state is None:
            self._state = (self._certificates(), self._admin_trust())
        return self._state

    def in_keychain(self, der):
        return der in self.state()[0]

    def trust_settings(self, der):
        """Our certificate's admin trustSettings array, or None when it has none."""
        return self.state()[1].get(sha1_hex(der))

    def is_current(self, der):
        return self.in_keychain(der) and ssl_trusted(self.trust_settings(der))

    def check(self, label, der, state):
        """True when already in state: present = in the keychain and a trusted SSL root in the admin domain;
        absent = neither the certificate nor any admin trust settings for it."""
        if state == "absent":
            return not self.in_keychain(der) and self.trust_settings(der) is None
        return self.is_current(der)

    # --- writing --------------------------------------------------------------------------

    def _with_pem(self, der, *args):
        """Run security with the PEM of der in a temporary file as the last argument."""
        path = self._temp_file("fleet-pki-macos-", der_to_pem(der))
        self._state = None
        try:
            return self._security(*(args + (path,)))
        finally:
            os.unlink(path)

    def add(self, label, der):
        """Add the CA to the keychain as a trusted SSL root (admin domain); True when anything was done."""
        self._state = None  # read afresh: someone may have clicked in Keychain Access meanwhile
        if self.is_current(der):
            return False
        rc, out, err = self._with_pem(der, *(ADD_ARGS + (self.keychain,)))
        if rc != 0:
            raise self._failure("add-trusted-cert -d -k %s" % self.keychain, rc, out, err)
        # Verify: a refused trust change can still leave the certificate in the keychain.
        if not self.is_current(der):
            raise TrustAnchorError(
                "store macos: security add-trusted-cert reported success, but the CA (SHA-1 %s) is not a trusted SSL "
                "root in %s afterwards (in keychain: %s, admin trust settings: %r)"
                % (sha1_hex(der), self.keychain, self.in_keychain(der), self.trust_settings(der))
            )
        return True

    def remove(self, label, der):
        """Drop our admin trust settings and delete our certificate (by SHA-1); True when there was either."""
        self._state = None
        had_trust = self.trust_settings(der) is not None
        had_certificate = self.in_keychain(der)
        if had_trust:
            rc, out, err = self._with_pem(der, "remove-trusted-cert", "-d")
            # Gone in the meantime counts as done.
            if rc != 0 and NO_TRUST_SETTINGS not in self._output(out, err):
                raise self._failure("remove-trusted-cert -d", rc, out, err)
        if had_certificate:
            self._state = None
            fingerprint = sha1_hex(der)
            rc, out, err = self._security("delete-certificate", "-Z", fingerprint, self.keychain)
            if rc != 0 and self.in_keychain(der):
                raise self._failure("delete-certificate -Z %s %s" % (fingerprint, self.keychain), rc, out, err)
        if had_trust or had_certificate:
            self._state = None
            if not self.check(label, der, "absent"):
                raise TrustAnchorError(
                    "store macos: security reported success, but the CA (SHA-1 %s) is still in %s or in the admin "
                    "trust settings afterwards" % (sha1_hex(der), self.keychain)
                )
        return had_trust or had_certificate
