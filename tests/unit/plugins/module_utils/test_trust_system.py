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

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, der_to_pem
from ansible_collections.fleet.pki.plugins.module_utils._trust_system import (
    DebianSystemStore,
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
    ('NAME="Fedora Linux"\nID=fedora\nPRETTY_NAME="Fedora Linux 40 (Workstation Edition)"\n', ["Fedora Linux 40", "ID=fedora"]),
    ('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n', ["Rocky Linux", "ID_LIKE=rhel centos fedora"]),
    ('NAME="Alpine Linux"\nID=alpine\n', ["Alpine Linux"]),
    ('NAME="Arch Linux"\nID=arch\n', ["Arch Linux"]),
])
def test_other_families_fail_naming_the_os(tmp_path, os_release, names):
    root = make_root(tmp_path, os_release=os_release)
    with pytest.raises(TrustAnchorError) as excinfo:
        detect_system_store(never_run, root=root)
    message = str(excinfo.value)
    assert "not supported" in message and "Debian family" in message
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
