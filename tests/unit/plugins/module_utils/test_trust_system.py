# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import glob
import os
import shutil
import stat
import subprocess
import sys
import zlib

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, der_to_pem
from ansible_collections.fleet.pki.plugins.module_utils._trust_system import (
    AlpineSystemStore,
    ArchSystemStore,
    DebianSystemStore,
    FreeBsdSystemStore,
    RhelSystemStore,
    SuseSystemStore,
    detect_system_store,
    read_os_release,
)

pytest.importorskip("cryptography")
from throwaway_ca import make_ca_der  # noqa: E402


LABEL = "Fleet_Root_CA-0123456789abcdef"
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'


@pytest.fixture(scope="module")
def ours():
    return make_ca_der("Fleet Root CA")


@pytest.fixture(scope="module")
def distro_ca():
    return make_ca_der("Some Public Root")


class FakeRefresh:
    """Stands in for update-ca-certificates: rebuilds the extracted bundle from the distro CAs
    plus every <anchor dir>/*.crt, and records each call."""

    def __init__(self, root, distro_ders, rc=0, err="", rebuild=True):
        self.root = root
        self.distro_ders = distro_ders
        self.rc = rc
        self.err = err
        self.rebuild = rebuild
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if self.rebuild:
            parts = [der_to_pem(der) for der in self.distro_ders]
            for crt in sorted(glob.glob(os.path.join(self.root, DebianSystemStore.ANCHOR_DIR, "*.crt"))):
                with open(crt) as f:
                    parts.append(f.read())
            with open(os.path.join(self.root, DebianSystemStore.EXTRACTED_BUNDLE), "w") as f:
                f.write("".join(parts))
        return self.rc, "1 added, 0 removed; done.\n", self.err


def never_run(argv):
    raise AssertionError("no command expected, got %r" % (argv,))


def run_subprocess(argv):
    """What AnsibleModule.run_command does, for tests without a module."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def make_root(tmp_path, os_release=DEBIAN, anchor_dir=True, program=True, distro_ders=()):
    root = tmp_path / "root"
    (root / "etc/ssl/certs").mkdir(parents=True)
    if os_release is not None:
        (root / "etc/os-release").write_text(os_release)
    if anchor_dir:
        (root / DebianSystemStore.ANCHOR_DIR).mkdir(parents=True)
    if program:
        (root / "usr/sbin").mkdir(parents=True)
        tool = root / "usr/sbin/update-ca-certificates"
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    (root / DebianSystemStore.EXTRACTED_BUNDLE).write_text("".join(der_to_pem(d) for d in distro_ders))
    return str(root)


@pytest.fixture
def root(tmp_path, distro_ca):
    return make_root(tmp_path, distro_ders=[distro_ca])


@pytest.fixture
def refresh(root, distro_ca):
    return FakeRefresh(root, [distro_ca])


@pytest.fixture
def store(root, refresh):
    return detect_system_store(refresh, root=root)


@pytest.fixture
def umask_077():
    old = os.umask(0o077)
    yield
    os.umask(old)


# --- detection ------------------------------------------------------------------------------

@pytest.mark.parametrize("os_release", [
    DEBIAN,
    'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 24.04 LTS"\n',
    'PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nID=raspbian\nID_LIKE=debian\n',
    'NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n',
])
def test_debian_family_is_detected(tmp_path, os_release):
    root = make_root(tmp_path, os_release=os_release)
    store = detect_system_store(never_run, root=root)
    assert isinstance(store, DebianSystemStore)
    assert store.refresh_command == [os.path.join(root, "usr/sbin/update-ca-certificates")]
    assert store.location(LABEL) == os.path.join(root, "usr/local/share/ca-certificates", LABEL + ".crt")


@pytest.mark.parametrize("os_release, names", [
    ('NAME=Gentoo\nID=gentoo\nPRETTY_NAME="Gentoo Linux"\n', ["Gentoo Linux", "ID=gentoo"]),
    ('NAME=NixOS\nID=nixos\nPRETTY_NAME="NixOS 24.05 (Uakari)"\n', ["NixOS 24.05", "ID=nixos"]),
    ('NAME="Void"\nID="void"\nPRETTY_NAME="Void Linux"\n', ["Void Linux"]),
    ('NAME="Kali-like"\nID=somedistro\nID_LIKE="gentoo slackware"\n', ["Kali-like", "ID_LIKE=gentoo slackware"]),
])
def test_unknown_systems_fail_naming_the_os_and_the_supported_families(tmp_path, os_release, names):
    root = make_root(tmp_path, os_release=os_release)
    with pytest.raises(TrustAnchorError) as excinfo:
        detect_system_store(never_run, root=root)
    message = str(excinfo.value)
    assert "not supported" in message and "Debian family" in message
    for family in ("Alpine", "RHEL family", "SUSE", "Arch family", "FreeBSD"):
        assert family in message
    for name in names:
        assert name in message


def test_no_os_release_fails_clearly(tmp_path):
    root = make_root(tmp_path, os_release=None)
    with pytest.raises(TrustAnchorError, match="without /etc/os-release.*Debian family"):
        detect_system_store(never_run, root=root)


def test_usr_lib_os_release_is_read_too(tmp_path):
    root = make_root(tmp_path, os_release=None)
    os.makedirs(os.path.join(root, "usr/lib"))
    with open(os.path.join(root, "usr/lib/os-release"), "w") as f:
        f.write(DEBIAN)
    assert read_os_release(root)["ID"] == "debian"
    detect_system_store(never_run, root=root)


def test_debian_without_anchor_directory_fails(tmp_path):
    root = make_root(tmp_path, anchor_dir=False)
    with pytest.raises(TrustAnchorError, match="ca-certificates is missing.*install the ca-certificates package"):
        detect_system_store(never_run, root=root)


def test_debian_without_refresh_command_fails(tmp_path):
    root = make_root(tmp_path, program=False)
    with pytest.raises(TrustAnchorError, match="update-ca-certificates was not found"):
        detect_system_store(never_run, root=root)


# --- present --------------------------------------------------------------------------------

def test_add_writes_the_anchor_and_refreshes(store, refresh, ours, umask_077):
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    path = store.location(LABEL)
    with open(path, "rb") as f:
        assert f.read() == der_to_pem(ours).encode()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert refresh.calls == [store.refresh_command]
    assert store.in_extracted_bundle(ours)
    assert store.check(LABEL, ours, "present")
    assert os.listdir(store.anchor_dir) == [LABEL + ".crt"]  # no temp files left


def test_second_add_does_nothing(store, refresh, ours):
    store.add(LABEL, ours)
    assert store.add(LABEL, ours) is False
    assert len(refresh.calls) == 1


def test_file_in_place_but_not_in_bundle_only_refreshes(store, refresh, ours):
    with open(store.location(LABEL), "w") as f:
        f.write(der_to_pem(ours))
    inode = os.stat(store.location(LABEL)).st_ino
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    assert len(refresh.calls) == 1
    assert os.stat(store.location(LABEL)).st_ino == inode


def test_outdated_file_is_replaced(store, refresh, ours, distro_ca):
    with open(store.location(LABEL), "w") as f:
        f.write(der_to_pem(distro_ca))
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    with open(store.location(LABEL)) as f:
        assert f.read() == der_to_pem(ours)


def test_same_certificate_with_other_formatting_is_rewritten(store, refresh, ours):
    with open(store.location(LABEL), "w") as f:
        f.write(der_to_pem(ours).replace("\n", "\r\n"))
    refresh([])  # the bundle has it, but the file is not what we write
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    assert store.check(LABEL, ours, "present")


def test_failing_refresh_is_an_error(root, distro_ca, ours):
    refresh = FakeRefresh(root, [distro_ca], rc=1, err="run-parts: failed\n")
    store = detect_system_store(refresh, root=root)
    with pytest.raises(TrustAnchorError, match="failed with exit code 1: run-parts: failed"):
        store.add(LABEL, ours)


def test_refresh_that_does_not_pick_the_file_up_is_an_error(root, distro_ca, ours):
    store = detect_system_store(FakeRefresh(root, [distro_ca], rebuild=False), root=root)
    with pytest.raises(TrustAnchorError, match="still missing from"):
        store.add(LABEL, ours)


def test_damaged_entry_in_the_bundle_does_not_hide_ours(store, ours):
    store.add(LABEL, ours)
    with open(store.extracted_bundle, "a") as f:
        f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert store.check(LABEL, ours, "present")


# --- absent ---------------------------------------------------------------------------------

def test_remove_deletes_the_file_and_refreshes(store, refresh, ours):
    store.add(LABEL, ours)
    assert not store.check(LABEL, ours, "absent")
    assert store.remove(LABEL, ours) is True
    assert not os.path.exists(store.location(LABEL))
    assert len(refresh.calls) == 2
    assert not store.in_extracted_bundle(ours)
    assert store.check(LABEL, ours, "absent")
    assert store.warnings == []


def test_remove_without_file_does_not_refresh(store, refresh, ours):
    assert store.check(LABEL, ours, "absent")
    assert store.remove(LABEL, ours) is False
    assert refresh.calls == []


def test_remove_warns_when_still_trusted_elsewhere(store, ours):
    store.add(LABEL, ours)
    shutil.copy(store.location(LABEL), os.path.join(store.anchor_dir, "copy-by-hand.crt"))
    assert store.remove(LABEL, ours) is True
    assert len(store.warnings) == 1
    assert "still trusted through another file" in store.warnings[0]


def test_other_anchor_files_are_untouched(store, ours, distro_ca):
    other = os.path.join(store.anchor_dir, "someone-else.crt")
    with open(other, "w") as f:
        f.write(der_to_pem(distro_ca))
    store.add(LABEL, ours)
    store.remove(LABEL, ours)
    assert os.listdir(store.anchor_dir) == ["someone-else.crt"]


# --- the real update-ca-certificates, relocated into a temp directory ------------------------

REAL_TOOL = "/usr/sbin/update-ca-certificates"


@pytest.mark.skipif(not (os.path.exists(REAL_TOOL) and shutil.which("openssl") and shutil.which("run-parts")),
                    reason="needs Debian's update-ca-certificates")
def test_with_the_real_update_ca_certificates(tmp_path, ours, distro_ca, monkeypatch):
    root = make_root(tmp_path)
    (tmp_path / "hooks").mkdir()
    # One "distribution" CA. With none at all the tool would not rebuild the bundle.
    (tmp_path / "share/distro").mkdir(parents=True)
    (tmp_path / "share/distro/Some_Public_Root.crt").write_text(der_to_pem(distro_ca))
    (tmp_path / "root/etc/ca-certificates.conf").write_text("distro/Some_Public_Root.crt\n")
    # Every path the tool reads or writes is redirected below tmp_path; hooks are an empty directory.
    command = [
        REAL_TOOL,
        "--certsconf", str(tmp_path / "root/etc/ca-certificates.conf"),
        "--certsdir", str(tmp_path / "share"),
        "--localcertsdir", os.path.join(root, DebianSystemStore.ANCHOR_DIR),
        "--etccertsdir", os.path.join(root, "etc/ssl/certs"),
        "--hooksdir", str(tmp_path / "hooks"),
    ]
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    store = detect_system_store(run_subprocess, root=root, refresh_command=command)
    assert store.add(LABEL, ours) is True
    assert store.in_extracted_bundle(ours)
    assert os.path.islink(os.path.join(root, "etc/ssl/certs", LABEL + ".pem"))
    assert store.add(LABEL, ours) is False
    assert store.remove(LABEL, ours) is True
    assert not store.in_extracted_bundle(ours)
    assert store.in_extracted_bundle(distro_ca)
    assert store.warnings == []


def test_refresh_command_is_run_as_given(tmp_path, ours):
    """A real program as the refresh command, run through a plain subprocess runner."""
    root = make_root(tmp_path)
    script = tmp_path / "fake-update"
    # Copies every anchor into the bundle, like the real tool does.
    script.write_text(
        "#!%s\nimport glob, sys\nroot = sys.argv[1]\n"
        "parts = [open(p).read() for p in sorted(glob.glob(root + '/%s/*.crt'))]\n"
        "open(root + '/%s', 'w').write(''.join(parts))\n"
        % (sys.executable, DebianSystemStore.ANCHOR_DIR, DebianSystemStore.EXTRACTED_BUNDLE)
    )
    script.chmod(0o755)
    store = detect_system_store(run_subprocess, root=root, refresh_command=[str(script), root])
    assert store.add(LABEL, ours) is True
    assert store.check(LABEL, ours, "present")


# --- the other families, tested by simulation ------------------------------------------------
#
# Each family gets a fake root filesystem (os-release, the family's directories, an executable
# refresh program where the distribution installs it) and a recorder that stands in for the
# refresh program: it records the exact argv and rebuilds the outputs from the anchor files
# the way the real tool does.

class Family:
    def __init__(self, name, store_class, anchor_dir, suffix, required_dir, programs, argv_tail,
                 bundle, written_bundle=None, link=None, sources=None, anchor_glob="*"):
        self.name = name
        self.store_class = store_class
        self.anchor_dir = anchor_dir
        self.suffix = suffix
        self.required_dir = required_dir
        self.programs = programs          # where the refresh program(s) live, below root
        self.argv_tail = argv_tail        # arguments after the program
        self.bundle = bundle              # what the store checks
        self.written_bundle = written_bundle or bundle  # what the tool writes (bundle may link to it)
        self.link = link                  # (link, target) the distribution ships
        self.sources = sources or [anchor_dir]
        self.anchor_glob = anchor_glob

    def __repr__(self):
        return self.name


ALPINE = Family("alpine", AlpineSystemStore, "usr/local/share/ca-certificates", ".crt", "usr/local/share/ca-certificates",
                ["usr/sbin/update-ca-certificates"], [], "etc/ssl/certs/ca-certificates.crt", anchor_glob="*.crt")
RHEL = Family("rhel", RhelSystemStore, "etc/pki/ca-trust/source/anchors", ".pem", "etc/pki/ca-trust/source",
              ["usr/bin/update-ca-trust"], ["extract"], "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
              link=("etc/pki/tls/certs/ca-bundle.crt", "../../ca-trust/extracted/pem/tls-ca-bundle.pem"))
SUSE = Family("suse", SuseSystemStore, "etc/pki/trust/anchors", ".pem", "etc/pki/trust",
              ["usr/sbin/update-ca-certificates"], [], "var/lib/ca-certificates/ca-bundle.pem",
              link=("etc/ssl/ca-bundle.pem", "../../var/lib/ca-certificates/ca-bundle.pem"))
ARCH = Family("arch", ArchSystemStore, "etc/ca-certificates/trust-source/anchors", ".crt", "etc/ca-certificates/trust-source",
              ["usr/bin/update-ca-trust", "usr/bin/trust"], ["extract"], "etc/ssl/certs/ca-certificates.crt",
              written_bundle="etc/ca-certificates/extracted/tls-ca-bundle.pem",
              link=("etc/ssl/certs/ca-certificates.crt", "../../ca-certificates/extracted/tls-ca-bundle.pem"))
FREEBSD = Family("freebsd", FreeBsdSystemStore, "usr/local/share/certs", ".pem", "etc/ssl",
                 ["usr/sbin/certctl"], ["rehash"], None,
                 sources=["usr/share/certs/trusted", "usr/local/share/certs"])
FAMILIES = [ALPINE, RHEL, SUSE, ARCH, FREEBSD]

OS_RELEASES = {
    "alpine": ['NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME="Alpine Linux v3.20"\n'],
    "rhel": [
        'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n',
        'NAME="Fedora Linux"\nID=fedora\nPRETTY_NAME="Fedora Linux 40 (Workstation Edition)"\n',
        'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n',
        'NAME="AlmaLinux"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"\n',
        'NAME="Amazon Linux"\nID="amzn"\nID_LIKE="fedora"\nPRETTY_NAME="Amazon Linux 2023.5.20240701"\n',
        'NAME="Amazon Linux"\nID="amzn"\nID_LIKE="centos rhel fedora"\nPRETTY_NAME="Amazon Linux 2"\n',
        'NAME="CentOS Stream"\nID="centos"\nID_LIKE="rhel fedora"\nPRETTY_NAME="CentOS Stream 9"\n',
        'NAME="Oracle Linux Server"\nID="ol"\nID_LIKE="fedora"\nPRETTY_NAME="Oracle Linux Server 9.4"\n',
        'NAME="Some Rebuild"\nID="somerebuild"\nID_LIKE="rhel fedora"\nPRETTY_NAME="Some Rebuild 9"\n',
    ],
    "suse": [
        'NAME="openSUSE Leap"\nVERSION="15.6"\nID="opensuse-leap"\nID_LIKE="suse opensuse"\nPRETTY_NAME="openSUSE Leap 15.6"\n',
        'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\nPRETTY_NAME="openSUSE Tumbleweed"\n',
        'NAME="SLES"\nVERSION="15-SP6"\nID="sles"\nID_LIKE="suse"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP6"\n',
        'NAME="openSUSE MicroOS"\nID="opensuse-microos"\nPRETTY_NAME="openSUSE MicroOS"\n',
    ],
    "arch": [
        'NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n',
        'NAME="Manjaro Linux"\nPRETTY_NAME="Manjaro Linux"\nID=manjaro\nID_LIKE=arch\n',
        'NAME="EndeavourOS"\nPRETTY_NAME="EndeavourOS"\nID="endeavouros"\nID_LIKE="arch"\n',
    ],
    "freebsd": ['NAME=FreeBSD\nVERSION="14.1-RELEASE"\nVERSION_ID="14.1"\nID=freebsd\nPRETTY_NAME="FreeBSD 14.1-RELEASE"\n'],
}


def _pems_in(directory, pattern="*"):
    texts = []
    for path in sorted(glob.glob(os.path.join(directory, pattern))):
        if os.path.isfile(path):
            with open(path) as f:
                texts.append(f.read())
    return texts


class FakeTool:
    """Stands in for a family's refresh program: records every argv and rebuilds the outputs
    from the distribution CAs plus the anchor files, as the real tool would.

    For FreeBSD it writes one file per CA into /etc/ssl/certs (certctl names them by subject
    hash; a CRC stands in for it here) and the bundle /etc/ssl/cert.pem. ``sticky`` also
    re-reads /etc/ssl/certs, like certctl between FreeBSD 15.0 and 15.1.
    """

    def __init__(self, family, root, distro_ders, rc=0, err="", rebuild=True, sticky=False):
        self.family = family
        self.root = root
        self.distro_ders = distro_ders
        self.rc = rc
        self.err = err
        self.rebuild = rebuild
        self.sticky = sticky
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if self.rebuild:
            self.build()
        return self.rc, "", self.err

    def build(self):
        pems = [der_to_pem(der) for der in self.distro_ders]
        for source in self.family.sources:
            pems += _pems_in(os.path.join(self.root, source), self.family.anchor_glob)
        if self.family is FREEBSD:
            self._certctl(pems)
            return
        with open(os.path.join(self.root, self.family.written_bundle), "w") as f:
            f.write("".join(pems))

    def _certctl(self, pems):
        hashed = os.path.join(self.root, "etc/ssl/certs")
        if self.sticky:
            pems += _pems_in(hashed)
        for name in os.listdir(hashed):
            os.unlink(os.path.join(hashed, name))
        unique = sorted(set(pems))
        for pem in unique:
            with open(os.path.join(hashed, "%08x.0" % zlib.crc32(pem.encode())), "w") as f:
                f.write(pem)
        with open(os.path.join(self.root, "etc/ssl/cert.pem"), "w") as f:
            f.write("".join(unique))


def make_family_root(tmp_path, family, os_release=None, required_dir=True, programs=None, distro_ders=()):
    root = tmp_path / "root"
    root.mkdir()
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text(os_release or OS_RELEASES[family.name][0])
    if required_dir:
        (root / family.required_dir).mkdir(parents=True, exist_ok=True)
        if family is not FREEBSD:  # FreeBSD has no /usr/local/share/certs until a port makes it
            (root / family.anchor_dir).mkdir(parents=True, exist_ok=True)
    for program in family.programs if programs is None else programs:
        (root / program).parent.mkdir(parents=True, exist_ok=True)
        (root / program).write_text("#!/bin/sh\nexit 0\n")
        (root / program).chmod(0o755)
    for path in (family.written_bundle or "etc/ssl/certs/x", "etc/ssl/certs/x"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
    if family.link:
        link, target = family.link
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, str(root / link))
    FakeTool(family, str(root), distro_ders).build()
    return str(root)


def family_store(tmp_path, family, distro_ca, **kwargs):
    root = make_family_root(tmp_path, family, distro_ders=[distro_ca], **kwargs)
    tool = FakeTool(family, root, [distro_ca])
    return detect_system_store(tool, root=root), tool, root


def expected_argv(family, root):
    return [os.path.join(root, family.programs[0])] + family.argv_tail


@pytest.mark.parametrize("family, os_release", [(f, text) for f in FAMILIES for text in OS_RELEASES[f.name]])
def test_each_family_is_detected_with_its_paths_and_command(tmp_path, family, os_release):
    root = make_family_root(tmp_path, family, os_release=os_release)
    store = detect_system_store(never_run, root=root)
    assert type(store) is family.store_class  # pylint: disable=unidiomatic-typecheck
    assert store.refresh_command == expected_argv(family, root)
    assert store.location(LABEL) == os.path.join(root, family.anchor_dir, LABEL + family.suffix)


def test_the_exact_places_per_family(tmp_path):
    """The host-side paths, spelled out once, so a typo in a class cannot hide behind the table above."""
    expected = {
        AlpineSystemStore: ("/usr/local/share/ca-certificates/L.crt", "/etc/ssl/certs/ca-certificates.crt"),
        RhelSystemStore: ("/etc/pki/ca-trust/source/anchors/L.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
        SuseSystemStore: ("/etc/pki/trust/anchors/L.pem", "/var/lib/ca-certificates/ca-bundle.pem"),
        ArchSystemStore: ("/etc/ca-certificates/trust-source/anchors/L.crt", "/etc/ssl/certs/ca-certificates.crt"),
        FreeBsdSystemStore: ("/usr/local/share/certs/L.pem", "/etc/ssl/certs"),
        DebianSystemStore: ("/usr/local/share/ca-certificates/L.crt", "/etc/ssl/certs/ca-certificates.crt"),
    }
    for store_class, (location, extracted) in expected.items():
        store = store_class(never_run, root="/", refresh_command=["x"])
        assert store.location("L") == location
        assert store.extracted_description() == extracted


@pytest.mark.parametrize("family", FAMILIES, ids=repr)
def test_family_add_writes_the_anchor_and_refreshes_once(tmp_path, family, ours, distro_ca, umask_077):
    store, tool, root = family_store(tmp_path, family, distro_ca)
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    path = os.path.join(root, family.anchor_dir, LABEL + family.suffix)
    with open(path, "rb") as f:
        assert f.read() == der_to_pem(ours).encode()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(os.path.dirname(path)) == [LABEL + family.suffix]  # no temp files left
    assert tool.calls == [expected_argv(family, root)]
    assert store.in_extracted_bundle(ours) and store.in_extracted_bundle(distro_ca)
    assert store.check(LABEL, ours, "present")
    # Idempotent: the second add changes nothing and runs nothing.
    assert store.add(LABEL, ours) is False
    assert len(tool.calls) == 1


@pytest.mark.parametrize("family", FAMILIES, ids=repr)
def test_family_remove_deletes_only_our_file_and_refreshes(tmp_path, family, ours, distro_ca):
    store, tool, root = family_store(tmp_path, family, distro_ca)
    other_ca = make_ca_der("Someone Else")
    os.makedirs(store.anchor_dir, exist_ok=True)
    other = os.path.join(store.anchor_dir, "someone-else" + family.suffix)
    with open(other, "w") as f:
        f.write(der_to_pem(other_ca))
    store.add(LABEL, ours)
    assert not store.check(LABEL, ours, "absent")
    assert store.remove(LABEL, ours) is True
    assert os.listdir(store.anchor_dir) == ["someone-else" + family.suffix]
    assert tool.calls == [expected_argv(family, root)] * 2
    assert not store.in_extracted_bundle(ours)
    assert store.in_extracted_bundle(other_ca) and store.in_extracted_bundle(distro_ca)
    assert store.check(LABEL, ours, "absent")
    assert store.warnings == []
    # Idempotent: nothing to remove, nothing run.
    assert store.remove(LABEL, ours) is False
    assert len(tool.calls) == 2


@pytest.mark.parametrize("family", FAMILIES, ids=repr)
def test_family_file_in_place_but_not_extracted_only_refreshes(tmp_path, family, ours, distro_ca):
    store, tool, root = family_store(tmp_path, family, distro_ca)
    os.makedirs(store.anchor_dir, exist_ok=True)
    with open(store.location(LABEL), "w") as f:
        f.write(der_to_pem(ours))
    inode = os.stat(store.location(LABEL)).st_ino
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    assert tool.calls == [expected_argv(family, root)]
    assert os.stat(store.location(LABEL)).st_ino == inode


@pytest.mark.parametrize("family", FAMILIES, ids=repr)
def test_family_refresh_that_does_not_pick_the_file_up_is_an_error(tmp_path, family, ours, distro_ca):
    root = make_family_root(tmp_path, family, distro_ders=[distro_ca])
    store = detect_system_store(FakeTool(family, root, [distro_ca], rebuild=False), root=root)
    with pytest.raises(TrustAnchorError) as excinfo:
        store.add(LABEL, ours)
    assert "%s ran, but the CA is still missing from %s" % (" ".join(expected_argv(family, root)),
                                                            store.extracted_description()) in str(excinfo.value)


@pytest.mark.parametrize("family", FAMILIES, ids=repr)
def test_family_failing_refresh_is_an_error_naming_the_command(tmp_path, family, ours, distro_ca):
    root = make_family_root(tmp_path, family, distro_ders=[distro_ca])
    store = detect_system_store(FakeTool(family, root, [distro_ca], rc=2, err="p11-kit: broken\n"), root=root)
    with pytest.raises(TrustAnchorError) as excinfo:
        store.add(LABEL, ours)
    assert str(excinfo.value) == "store system: %s failed with exit code 2: p11-kit: broken" % " ".join(expected_argv(family, root))


@pytest.mark.parametrize("family, hint", [
    (ALPINE, "install the ca-certificates package"),
    (RHEL, "install the ca-certificates package"),
    (SUSE, "install the ca-certificates and p11-kit-tools packages"),
    (ARCH, "install the ca-certificates-utils and p11-kit packages"),
], ids=repr)
def test_family_without_its_directory_fails_naming_os_path_and_package(tmp_path, family, hint):
    root = make_family_root(tmp_path, family, required_dir=False)
    with pytest.raises(TrustAnchorError) as excinfo:
        detect_system_store(never_run, root=root)
    pretty = read_os_release(root)["PRETTY_NAME"]
    assert str(excinfo.value) == "store system: %s is missing on %s (ID=%s%s); %s" % (
        os.path.join(root, family.required_dir), pretty, read_os_release(root)["ID"],
        ", ID_LIKE=%s" % read_os_release(root)["ID_LIKE"] if "ID_LIKE" in read_os_release(root) else "", hint)


@pytest.mark.parametrize("family, program_text", [
    (ALPINE, "update-ca-certificates was not found"),
    (RHEL, "update-ca-trust was not found"),
    (SUSE, "update-ca-certificates was not found"),
    (ARCH, "neither update-ca-trust nor trust was found"),
    (FREEBSD, "certctl was not found"),
], ids=repr)
def test_family_without_its_refresh_command_fails_naming_os_and_command(tmp_path, family, program_text):
    root = make_family_root(tmp_path, family, programs=[])
    with pytest.raises(TrustAnchorError) as excinfo:
        detect_system_store(never_run, root=root)
    message = str(excinfo.value)
    assert message.startswith("store system: %s on %s" % (program_text, read_os_release(root)["PRETTY_NAME"]))


def test_a_non_executable_refresh_program_does_not_count(tmp_path):
    root = make_family_root(tmp_path, RHEL)
    os.chmod(os.path.join(root, "usr/bin/update-ca-trust"), 0o644)
    with pytest.raises(TrustAnchorError, match="update-ca-trust was not found on Red Hat Enterprise Linux 9.4"):
        detect_system_store(never_run, root=root)


def test_arch_falls_back_to_trust_extract_compat(tmp_path, ours, distro_ca):
    store, tool, root = family_store(tmp_path, ARCH, distro_ca, programs=["usr/bin/trust"])
    assert store.refresh_command == [os.path.join(root, "usr/bin/trust"), "extract-compat"]
    assert store.add(LABEL, ours) is True
    assert tool.calls == [[os.path.join(root, "usr/bin/trust"), "extract-compat"]]


def test_arch_checks_the_bundle_through_the_link_clients_open(tmp_path, ours, distro_ca):
    store, dummy, root = family_store(tmp_path, ARCH, distro_ca)
    store.add(LABEL, ours)
    assert os.path.islink(store.extracted_bundle)
    # A broken link means clients see nothing, whatever the extracted file says.
    os.unlink(store.extracted_bundle)
    os.symlink("../../ca-certificates/extracted/nowhere.pem", store.extracted_bundle)
    assert not store.check(LABEL, ours, "present")


def test_freebsd_creates_the_anchor_directory(tmp_path, ours, distro_ca, umask_077):
    store, dummy, root = family_store(tmp_path, FREEBSD, distro_ca)
    assert not os.path.exists(os.path.join(root, "usr/local/share/certs"))
    assert store.check(LABEL, ours, "absent")
    assert store.add(LABEL, ours) is True
    assert stat.S_IMODE(os.stat(os.path.join(root, "usr/local/share/certs")).st_mode) == 0o755
    hashed = [name for name in os.listdir(os.path.join(root, "etc/ssl/certs"))
              if open(os.path.join(root, "etc/ssl/certs", name)).read() == der_to_pem(ours)]
    assert store.trusted_copies(ours) == [os.path.join(root, "etc/ssl/certs", hashed[0])]


def test_freebsd_certctl_that_keeps_the_ca_gives_a_warning_naming_the_file(tmp_path, ours, distro_ca):
    root = make_family_root(tmp_path, FREEBSD, distro_ders=[distro_ca])
    tool = FakeTool(FREEBSD, root, [distro_ca], sticky=True)
    store = detect_system_store(tool, root=root)
    store.add(LABEL, ours)
    assert store.remove(LABEL, ours) is True
    assert len(store.warnings) == 1
    [copy] = store.trusted_copies(ours)
    assert copy in store.warnings[0] and "still trusted" in store.warnings[0]
    assert "certctl before FreeBSD 15.1" in store.warnings[0]


@pytest.mark.parametrize("family", [RHEL, SUSE, ARCH], ids=repr)
def test_p11_kit_family_remove_warns_when_still_trusted_elsewhere(tmp_path, family, ours, distro_ca):
    store, dummy, root = family_store(tmp_path, family, distro_ca)
    store.add(LABEL, ours)
    shutil.copy(store.location(LABEL), os.path.join(store.anchor_dir, "copy-by-hand.pem"))
    assert store.remove(LABEL, ours) is True
    assert len(store.warnings) == 1
    assert "still trusted through another file" in store.warnings[0]
    assert store.extracted_bundle in store.warnings[0]


def test_id_wins_over_id_like(tmp_path):
    # A made-up Alpine derivative that also claims to be like Debian: ID decides first.
    root = make_family_root(tmp_path, ALPINE, os_release='ID=alpine\nID_LIKE=debian\nPRETTY_NAME="Alpine-ish"\n')
    assert type(detect_system_store(never_run, root=root)) is AlpineSystemStore  # pylint: disable=unidiomatic-typecheck
