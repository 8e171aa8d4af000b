# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_bundle import BundleStore
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    certificate_ders,
    der_to_pem,
)

pytest.importorskip("cryptography")
from throwaway_ca import make_ca_der  # noqa: E402


@pytest.fixture(scope="module")
def ours():
    return make_ca_der("Fleet Root CA")


@pytest.fixture(scope="module")
def others():
    return [make_ca_der("Other CA %d" % i) for i in range(2)]


@pytest.fixture
def umask_077():
    # A strict umask proves that the modes are set explicitly, not inherited.
    old = os.umask(0o077)
    yield
    os.umask(old)


LABEL = "Fleet_Root_CA-0123456789abcdef"


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


def test_new_file_and_parents_are_created_with_their_modes(tmp_path, ours, umask_077):
    path = tmp_path / "a" / "b" / "bundle.pem"
    store = BundleStore(str(path))
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    assert path.read_bytes() == ("# fleet.pki: %s\n" % LABEL + der_to_pem(ours)).encode()
    assert mode_of(path) == 0o644
    assert mode_of(tmp_path / "a") == 0o755
    assert mode_of(tmp_path / "a" / "b") == 0o755
    assert leftovers(str(path.parent)) == []


def test_add_is_idempotent(tmp_path, ours):
    path = tmp_path / "bundle.pem"
    store = BundleStore(str(path))
    store.add(LABEL, ours)
    first = path.read_bytes()
    inode = os.stat(path).st_ino
    assert store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is False
    assert path.read_bytes() == first
    assert os.stat(path).st_ino == inode  # not even rewritten


def test_add_appends_and_remove_restores_the_file_byte_for_byte(tmp_path, ours, others):
    original = (
        b"# a comment the user wrote\r\n"
        + der_to_pem(others[0]).replace("\n", "\r\n").encode()
        + b"\n\nsome text between\n"
        + der_to_pem(others[1]).encode()
    )
    path = tmp_path / "bundle.pem"
    path.write_bytes(original)
    store = BundleStore(str(path))
    assert store.add(LABEL, ours) is True
    content = path.read_bytes()
    assert content.startswith(original)
    assert certificate_ders(content.decode()) == [others[0], others[1], ours]
    assert store.check(LABEL, ours, "present")
    assert not store.check(LABEL, ours, "absent")
    assert store.remove(LABEL, ours) is True
    assert path.read_bytes() == original
    assert store.check(LABEL, ours, "absent")
    assert store.remove(LABEL, ours) is False


def test_add_to_a_file_without_final_newline(tmp_path, ours, others):
    path = tmp_path / "bundle.pem"
    path.write_bytes(der_to_pem(others[0]).encode().rstrip(b"\n"))
    store = BundleStore(str(path))
    store.add(LABEL, ours)
    assert certificate_ders(path.read_text()) == [others[0], ours]
    assert ("-----END CERTIFICATE-----\n# fleet.pki: %s\n" % LABEL) in path.read_text()


def test_same_certificate_without_our_marker_counts_as_present(tmp_path, ours, others):
    original = (der_to_pem(others[0]) + der_to_pem(ours)).encode()
    path = tmp_path / "bundle.pem"
    path.write_bytes(original)
    store = BundleStore(str(path))
    assert store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is False
    assert path.read_bytes() == original


def test_absent_removes_an_unmarked_copy_too_and_nothing_else(tmp_path, ours, others):
    before = der_to_pem(others[0]).encode()
    after = ("# user note\n" + der_to_pem(others[1])).encode()
    path = tmp_path / "bundle.pem"
    path.write_bytes(before + der_to_pem(ours).encode() + after)
    store = BundleStore(str(path))
    assert not store.check(LABEL, ours, "absent")
    assert store.remove(LABEL, ours) is True
    assert path.read_bytes() == before + after


def test_absent_removes_every_block_under_our_label(tmp_path, ours, others):
    keep = der_to_pem(others[1]).encode()
    path = tmp_path / "bundle.pem"
    path.write_bytes(
        keep
        + ("# fleet.pki: %s\n" % LABEL).encode() + der_to_pem(others[0]).encode()
        + ("# fleet.pki: %s\n" % LABEL).encode() + der_to_pem(ours).encode()
    )
    BundleStore(str(path)).remove(LABEL, ours)
    assert path.read_bytes() == keep


def test_a_label_with_another_certificate_is_replaced(tmp_path, ours, others):
    keep = der_to_pem(others[1]).encode()
    path = tmp_path / "bundle.pem"
    path.write_bytes(("# fleet.pki: %s\n" % LABEL).encode() + der_to_pem(others[0]).encode() + keep)
    store = BundleStore(str(path))
    assert not store.check(LABEL, ours, "present")
    assert store.add(LABEL, ours) is True
    assert path.read_bytes() == keep + ("# fleet.pki: %s\n" % LABEL).encode() + der_to_pem(ours).encode()


def test_other_labels_are_left_alone(tmp_path, ours, others):
    theirs = ("# fleet.pki: other-label\n" + der_to_pem(others[0])).encode()
    path = tmp_path / "bundle.pem"
    path.write_bytes(theirs)
    store = BundleStore(str(path))
    store.add(LABEL, ours)
    store.remove(LABEL, ours)
    assert path.read_bytes() == theirs


def test_absent_without_a_file_creates_nothing(tmp_path, ours):
    path = tmp_path / "missing" / "bundle.pem"
    store = BundleStore(str(path))
    assert store.check(LABEL, ours, "absent")
    assert store.remove(LABEL, ours) is False
    assert not (tmp_path / "missing").exists()


def test_removing_the_only_block_leaves_an_empty_file(tmp_path, ours):
    path = tmp_path / "bundle.pem"
    store = BundleStore(str(path))
    store.add(LABEL, ours)
    store.remove(LABEL, ours)
    assert path.read_bytes() == b""


def test_a_damaged_block_is_left_alone(tmp_path, ours):
    damaged = b"-----BEGIN CERTIFICATE-----\nMII=B*\n-----END CERTIFICATE-----\n"
    path = tmp_path / "bundle.pem"
    path.write_bytes(damaged)
    store = BundleStore(str(path))
    store.add(LABEL, ours)
    store.remove(LABEL, ours)
    assert path.read_bytes() == damaged


def test_existing_mode_is_kept(tmp_path, ours, umask_077):
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"")
    os.chmod(path, 0o640)
    BundleStore(str(path)).add(LABEL, ours)
    assert mode_of(path) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_existing_owner_is_kept(tmp_path, ours):
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"")
    os.chown(path, 4321, 4322)
    BundleStore(str(path)).add(LABEL, ours)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (4321, 4322)


def test_a_symlink_is_followed_and_kept(tmp_path, ours, others):
    target = tmp_path / "real.pem"
    target.write_bytes(der_to_pem(others[0]).encode())
    link = tmp_path / "link.pem"
    link.symlink_to(target)
    store = BundleStore(str(link))
    assert store.location(LABEL) == str(link)
    store.add(LABEL, ours)
    assert link.is_symlink()
    assert certificate_ders(target.read_text()) == [others[0], ours]


def test_relative_path_is_refused():
    with pytest.raises(TrustAnchorError, match="absolute path"):
        BundleStore("bundle.pem")


def test_directory_is_refused(tmp_path):
    with pytest.raises(TrustAnchorError, match="is a directory"):
        BundleStore(str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_gives_a_clear_error(tmp_path, ours):
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "bundle.pem").write_bytes(b"")
    os.chmod(directory, 0o555)
    try:
        with pytest.raises(TrustAnchorError, match="store bundle: cannot write"):
            BundleStore(str(directory / "bundle.pem")).add(LABEL, ours)
    finally:
        os.chmod(directory, 0o755)
