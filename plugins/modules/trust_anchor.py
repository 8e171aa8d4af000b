#!/usr/bin/python
# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: trust_anchor
short_description: Make a CA certificate trusted or untrusted in a host's trust stores
description:
  - Installs a CA certificate into, or removes it from, the trust stores of the target host, so that
    clients on that host (curl, OpenSSL, Python, browsers, Java, ...) accept the certificates the CA issued.
  - Each store is checked first and changed only when needed, so a second run reports no change.
  - An action plugin runs on the controller first. It reads O(src), checks that the certificate is a CA
    certificate, computes the default O(label), and fills O(stores), O(bundle_path), O(nss_databases),
    O(nss_users), O(firefox_policy_path), O(java_keystores) and O(java_keystore_password) from the host's variables
    C(fleet_pki_trust_stores), C(fleet_pki_bundle_path), C(fleet_pki_nss_databases), C(fleet_pki_nss_users),
    C(fleet_pki_firefox_policy_path), C(fleet_pki_java_keystores) and C(fleet_pki_java_keystore_password) when the
    task does not set them.
  - The target needs no Python C(cryptography) library.
  - Implemented stores are V(system) (Debian family, Alpine, RHEL family, SUSE, Arch family, FreeBSD), V(bundle),
    V(nss) (Chrome, Chromium and Firefox profiles on Linux), V(firefox_policy) (the Firefox enterprise policy file on
    Linux), V(java) (Java keystores), V(macos) (the System keychain) and V(windows) (C(Cert:\LocalMachine\Root)).
  - On a Windows host (a PowerShell connection) this module does not run. The action plugin runs
    M(ansible.windows.win_certificate_store) once instead, so the collection C(ansible.windows) is needed on the
    controller for Windows hosts.
author: fleet.pki contributors (@fleet-pki)
version_added: 0.1.0
requirements:
  - For O(stores=nss), C(certutil) on the target, from the package C(libnss3-tools) (Debian, Ubuntu), C(nss-tools)
    (RHEL, Fedora), C(mozilla-nss-tools) (SUSE) or C(nss) (Arch).
  - For O(stores=java), C(keytool) on the target, from a Java runtime, for example the package
    C(default-jre-headless) or C(openjdk-17-jre-headless) (Debian, Ubuntu) or C(java-17-openjdk-headless) (RHEL, Fedora).
  - For O(stores=macos), C(/usr/bin/security), part of macOS.
extends_documentation_fragment:
  - fleet.pki._attributes
  - fleet.pki._attributes.action
  - fleet.pki._attributes.platform
  - fleet.pki._attributes.files
attributes:
  action:
    support: full
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows, per store (per database for V(nss), per keystore for V(java)), V(absent) or V(present) with
        the label and the SHA-256 fingerprint, not file contents. For V(firefox_policy) the header names the policy file.
  idempotent:
    support: full
  platform:
    support: full
    platforms: [posix, windows]
    details:
      - On Windows the action plugin runs M(ansible.windows.win_certificate_store); this module itself runs on POSIX hosts.
  safe_file_operations:
    support: partial
    details:
      - Files are written atomically (a temp file in the same directory with its final mode and owner, fsync, rename).
      - It does not use Ansible's own file helpers, and it does not set SELinux contexts.
      - NSS databases are changed by C(certutil) only, which writes them in place.
      - The Firefox policy file is rewritten atomically as pretty-printed JSON, keeping its owner and mode.
      - Java keystores are changed by C(keytool) only, which rewrites them in place; their owner and mode are kept.
options:
  certificate:
    description:
      - The CA certificate as PEM text.
      - It must hold exactly one certificate, and that certificate must be a CA (BasicConstraints C(CA:TRUE)).
      - Exactly one of O(certificate) and O(src) is required.
    type: str
  src:
    description:
      - Path on the B(controller) to a PEM file holding the CA certificate.
      - A relative path is searched like M(ansible.builtin.copy) does, in the C(files/) directories of the role and the playbook.
      - The action plugin reads the file and passes its content as O(certificate); the target never sees this path.
      - Exactly one of O(certificate) and O(src) is required.
    type: path
  label:
    description:
      - >-
        The stable name of this CA in the stores. It becomes the file name C(<label>.crt) or C(<label>.pem) (by OS
        family) in the system store,
        the marker comment C(# fleet.pki: <label>) in a bundle, the nickname in an NSS database, and the alias in a Java
        keystore (in lower case there, because C(keytool) stores aliases in lower case).
      - Only the characters C(A-Z), C(a-z), C(0-9), C(.), C(_) and C(-), starting with a letter or a digit, at most 128 characters.
      - When not set, the action plugin derives it from the CA, its common name plus the first 16 hex digits of its
        SHA-256 fingerprint, for example C(Fleet_Root_CA-3f2a9c0d1e4b5a6f). A re-created CA so gets a new label and is
        installed next to the old one instead of replacing it.
    type: str
  stores:
    description:
      - The trust stores to act on.
      - V(system) is the operating system store, one PEM file per CA in the anchor directory of the OS family
        (C(/usr/local/share/ca-certificates/<label>.crt) on Debian and Alpine, C(/etc/pki/ca-trust/source/anchors/<label>.pem)
        on the RHEL family, C(/etc/pki/trust/anchors/<label>.pem) on SUSE, C(/etc/ca-certificates/trust-source/anchors/<label>.crt)
        on the Arch family, C(/usr/local/share/certs/<label>.pem) on FreeBSD), followed by the family's refresh command
        (C(update-ca-certificates), C(update-ca-trust extract), C(certctl rehash)), which rebuilds the files OpenSSL, curl
        and Python read. The family comes from C(/etc/os-release); the directory and command must exist, or the task fails
        naming the OS and the package to install. On Debian the refresh also feeds the distribution's Java through its hook.
      - V(bundle) is a PEM bundle file at O(bundle_path), for programs pointed at one file through
        C(SSL_CERT_FILE), C(REQUESTS_CA_BUNDLE), C(CURL_CA_BUNDLE) or C(NODE_EXTRA_CA_CERTS).
      - V(nss) is one or more NSS databases (O(nss_databases), and those of the users in O(nss_users)), where the CA is
        stored under the nickname O(label) with the trust flags C(C,,) (a trusted CA for TLS servers). Chrome and Chromium
        on Linux read C(~/.pki/nssdb) and ignore the system store; every Firefox profile has a database of its own.
        Firefox profiles are found for the users in O(nss_users).
      - V(firefox_policy) is the Firefox enterprise policy file O(firefox_policy_path). The CA is written to
        C(certificates/<label>.crt) in the directory of that file (mode C(0644)), and that absolute path is added to
        C(policies.Certificates.Install). Firefox imports it into every profile it opens, at its next start, for every
        user, also into profiles created later. It does not remove it from profiles when the entry is removed.
      - V(java) is one or more Java keystores (O(java_keystores)), where the CA is a trusted certificate entry under the
        alias O(label) in lower case. On the Debian family the V(system) store already installs the CA into the
        keystore of the distribution's JVMs (C(/etc/ssl/certs/java/cacerts), through the hook of C(ca-certificates-java)),
        so V(java) is needed there for JDKs with their own C(cacerts) (vendor tarballs), for application truststores,
        and for removing the CA (see O(state)).
      - V(macos) is the macOS System keychain C(/Library/Keychains/System.keychain), with admin trust settings that make
        the CA a trusted root for SSL (C(security add-trusted-cert -d -r trustRoot -p ssl -p basic)). Since macOS 11 that
        asks for an administrator password in a dialog, even as root, so an unattended run fails with a message that
        says so; use the C(ca.mobileconfig) next to the CA with an MDM instead. Tested by simulation only.
      - V(windows) is C(Cert:\LocalMachine\Root), the machine's Trusted Root Certification Authorities, on a Windows host
        (a PowerShell connection). The action plugin copies the CA (DER) into the host's temporary directory and runs
        M(ansible.windows.win_certificate_store) once; V(absent) removes the CA's thumbprint (its SHA-1) and nothing
        else. It is the only store on a Windows host, and no other store works on other hosts. Tested by simulation only.
      - When not set, the action plugin uses the host variable C(fleet_pki_trust_stores), and V([system]) when that is
        not set either (V([windows]) on a Windows host).
    type: list
    elements: str
    choices: [system, bundle, nss, firefox_policy, java, macos, windows]
    default: [system]
  state:
    description:
      - V(present) installs the CA; V(absent) removes it.
      - With V(absent), the system store removes the file C(<label>.crt) or C(<label>.pem) and refreshes; a bundle loses the blocks under
        the marker of O(label) and every block holding the same certificate, and nothing else; an NSS database
        loses every certificate under the nickname O(label), and nothing else; a Java keystore loses the trusted
        certificate entry under the alias O(label) (lower case), and nothing else; the Firefox policy file loses the
        C(Install) entry of our certificate file, and the file C(certificates/<label>.crt) is deleted. Other policies and
        entries stay; containers left empty are removed, so a file that held only our entry becomes
        C({"policies":{}}), which is still valid. The policy file itself is never deleted.
      - On the Debian family, C(update-ca-certificates) does not pass the removal of an anchor to the
        C(ca-certificates-java) hook, so the V(system) store alone leaves the CA in C(/etc/ssl/certs/java/cacerts)
        under the hook's alias C(debian:<label>.pem). Add V(java) to O(stores) to remove it there too; in that keystore
        the V(java) store also deletes C(debian:<label>.pem) when it holds this certificate.
    type: str
    choices: [present, absent]
    default: present
  bundle_path:
    description:
      - Absolute path on the target of the PEM bundle file for the V(bundle) store. Required when O(stores) contains V(bundle).
      - A missing file is created with mode C(0644), and missing parent directories with mode C(0755).
        An existing file keeps its mode and owner; a symbolic link is followed and kept.
      - When not set, the action plugin uses the host variable C(fleet_pki_bundle_path).
    type: path
  nss_databases:
    description:
      - NSS database directories on the target for the V(nss) store (the directory that holds C(cert9.db), without
        a C(sql:) prefix). Used only when O(stores) contains V(nss).
      - When not set, the action plugin uses the host variable C(fleet_pki_nss_databases); when that is not set
        either and O(nss_users) is not set, the database of the user the module runs as, C(~/.pki/nssdb) (C($HOME)
        first, as Chromium does). With O(ignore:become_user), that is the home of the become user.
      - When O(nss_users) is set too, the store acts on both, these databases first. A database reached twice (also
        through a symbolic link) is changed once.
      - A directory with C(cert9.db) is used as C(sql:), one with only a legacy C(cert8.db) as C(dbm:).
      - With O(state=present), a missing database is created empty, without a password
        (C(certutil -N --empty-password)); missing directories get mode C(0700). When the module runs as root,
        the new directories and files get the owner and group of the nearest existing parent directory (the user's
        home), so the user's browser can open them.
      - With O(state=absent), a missing database is left missing.
    type: list
    elements: path
  nss_users:
    description:
      - Users whose browsers get the CA, for the V(nss) store. Used only when O(stores) contains V(nss).
      - For each user, in this order, the store acts on the Chromium database C(~/.pki/nssdb) (created when missing,
        owned by the user, see O(nss_databases)); the snap Chromium database C(~/snap/chromium/current/.pki/nssdb), when the snap
        Chromium ran once (C(~/snap/chromium/current) exists); and every Firefox profile of the user.
      - Firefox profiles are searched in C(~/.mozilla/firefox) (classic), C(~/snap/firefox/common/.mozilla/firefox)
        (snap), C(~/.var/app/org.mozilla.firefox/.mozilla/firefox) (flatpak) and C(~/.config/mozilla/firefox)
        (Firefox 147 and later; the default location, C($XDG_CONFIG_HOME) is not read). In each, the profiles listed in
        C(profiles.ini) (C(Path=), relative when C(IsRelative=1)) and the directories right below it count, when they
        already hold a database (C(cert9.db), or a legacy C(cert8.db) used as C(dbm:)) and belong to the user. A Firefox
        database is never created, because Firefox makes the profile at its first start. An unreadable C(profiles.ini) gives a
        warning.
      - The single name V(all) stands for every login user of the passwd database, a uid in the range C(UID_MIN) to
        C(UID_MAX) of C(/etc/login.defs) (1000 to 60000 when it does not say) and a shell other than C(nologin) and
        C(false). So root and system accounts are left out; name them to include them, for example V([all, root]).
      - A name that is not a user on the target fails the task, naming it. A user whose home directory does not exist
        is skipped with a warning.
      - When not set, the action plugin uses the host variable C(fleet_pki_nss_users).
      - The module needs to run as root to reach other users' homes (O(ignore:become=true)).
    type: list
    elements: str
  firefox_policy_path:
    description:
      - The Firefox enterprise policy file for the V(firefox_policy) store. Used only when O(stores) contains V(firefox_policy).
      - The default is read by the deb and the snap Firefox. Some distribution packages read
        C(<install directory>/distribution/policies.json) instead.
      - A missing file is created with mode C(0644) (and missing directories with C(0755)); an existing one keeps its owner and
        mode, and every other policy and C(Install) entry. A file that is not valid JSON is refused, naming it, and left as it is.
      - When not set, the action plugin uses the host variable C(fleet_pki_firefox_policy_path).
    type: path
    default: /etc/firefox/policies/policies.json
  java_keystores:
    description:
      - Java keystore files on the target for the V(java) store, JKS or PKCS12 (C(keytool) tells them apart).
        Used only when O(stores) contains V(java).
      - When not set, the action plugin uses the host variable C(fleet_pki_java_keystores); when that is not set
        either, the keystores of the JDKs found on the target, in this order, C($JAVA_HOME/lib/security/cacerts),
        C(/usr/lib/jvm/*/lib/security/cacerts), C(/usr/lib/jvm/*/jre/lib/security/cacerts) (Java 8) and
        C(/etc/pki/java/cacerts) (RHEL). Symbolic links are resolved and a keystore shared by several JDKs is
        changed once; the result reports the real path. When none is found, the task fails.
      - Every path must be absolute. With O(state=present) every keystore must exist (it is not created); with
        O(state=absent) a missing keystore is left missing.
      - The keystore file keeps its owner and mode.
      - A keystore below a JDK (C(<jdk>/lib/security/cacerts)) is changed with that JDK's own C(bin/keytool), so the
        file stays in a format that JDK reads; other keystores with the C(keytool) of C($JAVA_HOME/bin) or the C(PATH).
    type: list
    elements: path
  java_keystore_password:
    description:
      - The password of the keystores in O(java_keystores), one password for all of them.
      - It is given to C(keytool) through its environment (C(-storepass:env)), never on the command line, and it is
        never shown in the output or in messages. A wrong password fails the task, naming the keystore.
      - When not set, the action plugin uses the host variable C(fleet_pki_java_keystore_password) (put it in
        ansible-vault); when that is not set either, V(changeit), the default password of every JDK's C(cacerts).
    type: str
    default: changeit
notes:
  - The certificate is public data and is not hidden from the log.
  - On the Debian family, C(update-ca-certificates) also runs the hooks in C(/etc/ca-certificates/update.d),
    for example the one of C(ca-certificates-java) that feeds the distribution's Java keystore.
  - The module runs the refresh command of the system store only when the anchor file changed or the CA is missing from
    the family's extracted bundle (C(/etc/ssl/certs/ca-certificates.crt) on Debian), and checks that the CA is in that
    bundle afterwards.
  - NSS databases belong to a user. To reach another user's C(~/.pki/nssdb), run the task with
    O(ignore:become_user) set to that user, or list the path in O(nss_databases).
  - A browser reads its NSS database at start; restart it after a change. Firefox reads its policy file at start too.
  - A Firefox profile exists only after the first start of Firefox; profiles created later are reached by running the
    task again (V(nss)) or by the policy (V(firefox_policy)).
  - The Firefox policy C(Certificates.ImportEnterpriseRoots) does not apply on Linux (Windows, macOS and Android only),
    so Firefox on Linux does not see the V(system) store.
  - Firefox imports a certificate of the policy under a nickname of its own. The V(nss) store then refuses to add the same
    CA to that profile, naming that nickname; use one of V(nss) and V(firefox_policy) for Firefox.
  - In an NSS database, "present" means the nickname O(label) holds this certificate with the C(C) trust flag for TLS.
    Every change is verified by reading the database again, because C(certutil -A) can succeed without storing
    anything (for example when the same certificate is already there under another nickname; the task then fails
    and names that nickname).
  - In a Java keystore, "present" means the alias O(label) (lower case) is a trusted certificate entry holding this
    certificate (same SHA-256). An alias holding another certificate is deleted and imported again; an alias holding
    a private key is never touched, and the task fails. Every change is verified by listing the alias again.
  - Every store is read before any store is changed, so a wrong keystore password or a missing keystore fails
    the task before anything is written.
  - A running JVM reads its keystore at start; restart Java applications after a change.
  - On the Debian family, entries added by the V(java) store to C(/etc/ssl/certs/java/cacerts) survive
    C(update-ca-certificates), also with C(--fresh), because the C(ca-certificates-java) hook only handles its own
    C(debian:*) aliases. On RHEL, C(/etc/pki/java/cacerts) is rebuilt by C(update-ca-trust extract), which drops
    them; the module warns about that.
seealso:
  - module: ansible.windows.win_certificate_store
    description: What the V(windows) store runs on a Windows host.
  - name: update-ca-certificates(8)
    description: The Debian tool that rebuilds C(/etc/ssl/certs).
    link: https://manpages.debian.org/bookworm/ca-certificates/update-ca-certificates.8.en.html
  - name: Chromium on Linux, certificate management
    description: Chromium reads the NSS database C(~/.pki/nssdb).
    link: https://chromium.googlesource.com/chromium/src/+/HEAD/docs/linux/cert_management.md
  - name: Firefox enterprise policies, Certificates
    description: The C(Certificates.Install) policy of C(policies.json).
    link: https://mozilla.github.io/policy-templates/#certificates--install
  - name: keytool (JDK 17)
    description: The tool that changes Java keystores.
    link: https://docs.oracle.com/en/java/javase/17/docs/specs/man/keytool.html
"""

EXAMPLES = r"""
- name: Trust the fleet CA in the OS store
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt

- name: Trust the fleet CA in the OS store and in a bundle for Node.js (NODE_EXTRA_CA_CERTS)
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores:
      - system
      - bundle
    bundle_path: /etc/fleet/extra-ca.pem

- name: Trust a CA given as PEM text, under a label of our choice
  fleet.pki.trust_anchor:
    certificate: "{{ lookup('ansible.builtin.file', 'pki/ca/ca.crt') }}"
    label: fleet-root-2026

- name: Trust the fleet CA in Chrome/Chromium of the user the task runs as (~/.pki/nssdb)
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [system, nss]

- name: Trust the fleet CA in the Chromium database of user alice
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [nss]
  become: true
  become_user: alice

- name: Trust the fleet CA in explicit NSS databases (the snap Chromium and a kiosk account)
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [nss]
    nss_databases:
      - /home/alice/snap/chromium/current/.pki/nssdb
      - /home/kiosk/.pki/nssdb

- name: Trust the fleet CA in Chromium and every Firefox profile of alice and bob
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [nss]
    nss_users: [alice, bob]
  become: true

- name: Trust the fleet CA in the browsers of every login user, and in Firefox profiles made later (policy)
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [nss, firefox_policy]
    nss_users: [all]
  become: true

- name: Trust the fleet CA in the keystores of every JDK found on the host
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [java]

- name: Trust the fleet CA in a vendor JDK and in an application truststore with its own password
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [java]
    java_keystores:
      - /opt/jdk-21/lib/security/cacerts
      - /opt/scada/conf/truststore.p12
    java_keystore_password: "{{ scada_truststore_password }}"

- name: Remove the fleet CA from the OS store and the bundle
  fleet.pki.trust_anchor:
    src: pki/ca/ca.crt
    stores: [system, bundle]
    bundle_path: /etc/fleet/extra-ca.pem
    state: absent
"""

RETURN = r"""
label:
  description: The label the CA has (or had) in the stores.
  returned: success
  type: str
  sample: Fleet_Root_CA-3f2a9c0d1e4b5a6f
sha256:
  description: SHA-256 fingerprint of the CA certificate (DER), lower-case hex without colons.
  returned: success
  type: str
  sample: 3f2a9c0d1e4b5a6f7081920a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e
stores:
  description: What happened in each store of O(stores), keyed by the store name.
  returned: success
  type: dict
  contains:
    changed:
      description: Whether this store was changed (or would be, in check mode).
      type: bool
      returned: success
      sample: true
    path:
      description: The file that holds the CA in this store (the anchor file, the bundle, or the Firefox policy file).
      type: str
      returned: for the V(system), V(bundle) and V(firefox_policy) stores
      sample: /usr/local/share/ca-certificates/Fleet_Root_CA-3f2a9c0d1e4b5a6f.crt
    databases:
      description:
        - One entry per NSS database, in the order of O(nss_databases), then per user of O(nss_users) the Chromium
          database, the snap Chromium database and the Firefox profiles (sorted).
      type: list
      elements: dict
      returned: for the V(nss) store
      contains:
        path:
          description: The database directory.
          type: str
          sample: /home/alice/.pki/nssdb
        changed:
          description: Whether this database was changed (or would be, in check mode).
          type: bool
          sample: true
    keystores:
      description:
        - One entry per Java keystore, in the order of O(java_keystores), or in the order they were found.
        - A keystore shared by several JDKs is listed once, under its real path.
      type: list
      elements: dict
      returned: for the V(java) store
      contains:
        path:
          description: The keystore file.
          type: str
          sample: /opt/jdk-21/lib/security/cacerts
        changed:
          description: Whether this keystore was changed (or would be, in check mode).
          type: bool
          sample: true
  sample:
    system:
      changed: true
      path: /usr/local/share/ca-certificates/Fleet_Root_CA-3f2a9c0d1e4b5a6f.crt
    bundle:
      changed: false
      path: /etc/fleet/extra-ca.pem
    firefox_policy:
      changed: true
      path: /etc/firefox/policies/policies.json
    nss:
      changed: true
      databases:
        - path: /home/alice/.pki/nssdb
          changed: true
    java:
      changed: true
      keystores:
        - path: /opt/jdk-21/lib/security/cacerts
          changed: true
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._trust_bundle import BundleStore
from ansible_collections.fleet.pki.plugins.module_utils._trust_java import (
    JavaKeystore,
    find_keystores,
    keystore_paths,
    keytool_missing_message,
)
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    sha256_hex,
    single_certificate_der,
    validate_label,
)
from ansible_collections.fleet.pki.plugins.module_utils._trust_firefox_policy import DEFAULT_POLICY_PATH, FirefoxPolicy
from ansible_collections.fleet.pki.plugins.module_utils._trust_nss import (
    NssDatabase,
    certutil_missing_message,
    nss_places,
)
from ansible_collections.fleet.pki.plugins.module_utils._trust_macos import MacosKeychain, require_macos
from ansible_collections.fleet.pki.plugins.module_utils._trust_system import detect_system_store, read_os_release


TRUST_STORES = ["system", "bundle", "nss", "firefox_policy", "java", "macos", "windows"]
# Where the java store looks for JDKs when java_keystores is not set (besides $JAVA_HOME).
JVM_DIRS = ["/usr/lib/jvm"]
FIXED_KEYSTORES = ["/etc/pki/java/cacerts"]


def _system_store(module):
    if platform.system() == "Darwin":
        raise TrustAnchorError("store system is the Linux and BSD store; on macOS use the store macos")
    return detect_system_store(module.run_command)


def _bundle_store(module):
    if not module.params["bundle_path"]:
        raise TrustAnchorError("store bundle needs bundle_path")
    return BundleStore(module.params["bundle_path"])


def _nss_store(module):
    # .get: nss_users is newer than some callers' parameter sets.
    directories, warnings = nss_places(module.params["nss_databases"], module.params.get("nss_users"))
    for warning in warnings:
        module.warn(warning)
    certutil = module.get_bin_path("certutil")
    if certutil is None:
        raise TrustAnchorError(certutil_missing_message(read_os_release()))
    return [NssDatabase(directory, certutil, module.run_command, tmpdir=module.tmpdir) for directory in directories]


def _firefox_policy_store(module):
    return FirefoxPolicy(module.params.get("firefox_policy_path") or DEFAULT_POLICY_PATH)


def _java_store(module):
    java_home = os.environ.get("JAVA_HOME")
    if module.params["java_keystores"] is None:
        keystores = find_keystores(java_home, JVM_DIRS, FIXED_KEYSTORES)
    else:
        keystores = keystore_paths(module.params["java_keystores"])
    keytool = None
    if any(own is None for dummy, own in keystores):
        keytool = module.get_bin_path("keytool", opt_dirs=[os.path.join(java_home, "bin")] if java_home else [])
        if keytool is None:
            raise TrustAnchorError(keytool_missing_message(read_os_release()))
    password = module.params["java_keystore_password"]
    return [JavaKeystore(path, own or keytool, module.run_command, password, tmpdir=module.tmpdir)
            for path, own in keystores]


def _macos_store(module):
    security = require_macos(platform.system(), module.get_bin_path("security", opt_dirs=["/usr/bin"]))
    return MacosKeychain(module.run_command, security=security, tmpdir=module.tmpdir)


def _windows_store(module):
    raise TrustAnchorError(
        "store windows needs a Windows host (a PowerShell connection); this host runs %s" % platform.system()
    )


# One entry per implemented store: a factory returning an object with check(label, der, state),
# add(label, der), remove(label, der), location(label) and a warnings list, or a list of such
# objects when the store has several places (one per NSS database, one per Java keystore).
BACKENDS = {
    "system": _system_store,
    "bundle": _bundle_store,
    "nss": _nss_store,
    "firefox_policy": _firefox_policy_store,
    "java": _java_store,
    "macos": _macos_store,
    "windows": _windows_store,
}
# Stores with several places report each one under this key instead of a single path.
PLACES_KEY = {"nss": "databases", "java": "keystores"}


def _presence(label, fingerprint, present):
    return "present: %s (sha256 %s)\n" % (label, fingerprint) if present else "absent\n"


def _diff(name, store, label, der, fingerprint, state, needed):
    """Per-store diff: is our CA there, before and after."""
    if not needed:
        before = _presence(label, fingerprint, state == "present")
    elif state == "absent":
        before = _presence(label, fingerprint, True)
    elif store.check(label, der, "absent"):
        before = _presence(label, fingerprint, False)
    else:
        before = "outdated: %s (content differs or the store was not refreshed)\n" % label
    header = "%s: %s" % (name, store.location(label))
    return dict(before=before, after=_presence(label, fingerprint, state == "present"),
                before_header=header, after_header=header)


def _store_entry(name, places):
    """The result entry of one store from the results of its places."""
    if name in PLACES_KEY:
        return {"changed": any(place["changed"] for place in places), PLACES_KEY[name]: places}
    return places[0]


def run_module(module):
    """Check every store, change those that need it (unless in check mode); return the result."""
    params = module.params
    if params["src"] is not None:
        raise TrustAnchorError("src is read on the controller by the fleet.pki.trust_anchor action plugin; pass certificate instead")
    if params["label"] is None:
        raise TrustAnchorError("label is required (the fleet.pki.trust_anchor action plugin computes it when it is not set)")
    label = validate_label(params["label"])
    der = single_certificate_der(params["certificate"])
    fingerprint = sha256_hex(der)
    state = params["state"]

    names = list(dict.fromkeys(params["stores"]))  # keep order, drop repeats
    # Build every backend before touching anything, so a detection failure changes nothing.
    stores = []
    for name in names:
        backend = BACKENDS[name](module)
        stores.append((name, backend if isinstance(backend, list) else [backend]))

    # Read every place before changing any, so a read failure (a wrong keystore password, say) writes nothing.
    checked = [(name, [(store, not store.check(label, der, state)) for store in places]) for name, places in stores]
    diffs = []
    if module._diff:
        diffs = [_diff(name, store, label, der, fingerprint, state, needed)
                 for name, places in checked for store, needed in places]

    result = dict(changed=False, label=label, sha256=fingerprint, stores={})
    for name, places in checked:
        done = []
        for store, needed in places:
            entry = dict(changed=needed, path=store.location(label))
            if needed and not module.check_mode:
                action = store.add if state == "present" else store.remove
                try:
                    entry["changed"] = action(label, der)
                except FleetPkiError as exc:
                    # Report the places done so far; this one is in an unknown state.
                    if done and name in PLACES_KEY:
                        result["stores"][name] = _store_entry(name, done)
                    result["changed"] = any(e["changed"] for e in result["stores"].values())
                    module.fail_json(msg=str(exc), **result)
            for warning in store.warnings:
                module.warn(warning)
            done.append(entry)
        entry = result["stores"][name] = _store_entry(name, done)
        result["changed"] = result["changed"] or entry["changed"]
    if module._diff:
        result["diff"] = diffs
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            certificate=dict(type="str"),
            src=dict(type="path"),
            label=dict(type="str"),
            stores=dict(type="list", elements="str", default=["system"], choices=TRUST_STORES),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            bundle_path=dict(type="path"),
            nss_databases=dict(type="list", elements="path"),
            nss_users=dict(type="list", elements="str"),
            firefox_policy_path=dict(type="path", default=DEFAULT_POLICY_PATH),
            java_keystores=dict(type="list", elements="path", no_log=False),  # paths, not secrets
            java_keystore_password=dict(type="str", default="changeit", no_log=True),
        ),
        mutually_exclusive=[("certificate", "src")],
        required_one_of=[("certificate", "src")],
        supports_check_mode=True,
    )
    try:
        result = run_module(module)
    except FleetPkiError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
