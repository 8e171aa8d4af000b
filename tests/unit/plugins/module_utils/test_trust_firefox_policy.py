# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The firefox_policy store on temporary policy files."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._trust_firefox_policy import FirefoxPolicy
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, der_to_pem, sha256_hex
from ansible_collections.fleet.pki.plugins.modules import trust_anchor

pytest.importorskip("cryptography")
from throwaway_ca import make_ca_der  # noqa: E402


LABEL = "Fleet_Root_CA-0123456789abcdef"


@pytest.fixture(scope="module")
def ours():
    return make_ca_der("Fleet Root CA")


@pytest.fixture(scope="module")
def other():
    return make_ca_der("Fleet Root CA")


@pytest.fixture
def policy_file(tmp_path):
    return tmp_path / "etc" / "firefox" / "policies" / "policies.json"


def our_entry(policy_file, label=LABEL):
    return str(policy_file.parent / "certificates" / ("%s.crt" % label))


def read(path):
    return json.loads(path.read_text())


def test_a_new_policy_file_is_created(policy_file, ours):
    store = FirefoxPolicy(str(policy_file))
    assert store.check(LABEL, ours, "present") is False
    assert store.check(LABEL, ours, "absent") is True
    assert store.add(LABEL, ours) is True
    assert read(policy_file) == {"policies": {"Certificates": {"Install": [our_entry(policy_file)]}}}
    with open(our_entry(policy_file)) as handle:
        assert handle.read() == der_to_pem(ours)
    for path in (policy_file, our_entry(policy_file)):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(policy_file.parent).st_mode) == 0o755
    assert policy_file.read_text().startswith('{\n  "policies": {\n')  # pretty JSON
    assert store.check(LABEL, ours, "present") is True
    assert store.add(LABEL, ours) is False


def test_existing_policies_and_install_entries_are_kept(policy_file, ours):
    policy_file.parent.mkdir(parents=True)
    existing = {
        "policies": {
            "DisableTelemetry": True,
            "Certificates": {"ImportEnterpriseRoots": True, "Install": ["corp-root.pem", "/opt/ca/other.crt"]},
            "Homepage": {"URL": "https://intranet.example/", "Locked": False},
        },
        "comment": "managed by hand, ünïcode kept",
    }
    policy_file.write_text(json.dumps(existing))
    os.chmod(str(policy_file), 0o640)
    store = FirefoxPolicy(str(policy_file))
    assert store.add(LABEL, ours) is True
    after = read(policy_file)
    expected = json.loads(json.dumps(existing))
    expected["policies"]["Certificates"]["Install"].append(our_entry(policy_file))
    assert after == expected
    assert list(after["policies"]) == ["DisableTelemetry", "Certificates", "Homepage"]  # key order kept
    assert stat.S_IMODE(os.stat(policy_file).st_mode) == 0o640
    assert store.add(LABEL, ours) is False
    # Removal takes exactly our entry and our file.
    assert store.check(LABEL, ours, "absent") is False
    assert store.remove(LABEL, ours) is True
    assert read(policy_file) == existing
    assert not os.path.exists(our_entry(policy_file))
    assert store.remove(LABEL, ours) is False
    assert store.check(LABEL, ours, "absent") is True


def test_removing_the_only_entry_leaves_a_valid_empty_policy_file(policy_file, ours):
    store = FirefoxPolicy(str(policy_file))
    store.add(LABEL, ours)
    assert store.remove(LABEL, ours) is True
    assert read(policy_file) == {"policies": {}}


def test_a_missing_policy_file_is_not_created_by_removal(policy_file, ours):
    store = FirefoxPolicy(str(policy_file))
    assert store.check(LABEL, ours, "absent") is True
    assert store.remove(LABEL, ours) is False
    assert not policy_file.parent.exists()


def test_a_certificate_file_left_without_its_entry_is_removed(policy_file, ours):
    store = FirefoxPolicy(str(policy_file))
    store.add(LABEL, ours)
    policy_file.write_text('{"policies": {}}')
    assert store.check(LABEL, ours, "absent") is False
    assert store.remove(LABEL, ours) is True
    assert not os.path.exists(our_entry(policy_file))
    assert read(policy_file) == {"policies": {}}


def test_a_changed_certificate_under_the_label_is_rewritten(policy_file, ours, other):
    store = FirefoxPolicy(str(policy_file))
    store.add(LABEL, other)
    before = policy_file.read_bytes()
    assert store.check(LABEL, ours, "present") is False
    assert store.add(LABEL, ours) is True
    with open(our_entry(policy_file)) as handle:
        assert handle.read() == der_to_pem(ours)
    assert policy_file.read_bytes() == before  # the entry was already there


def test_two_labels_side_by_side(policy_file, ours, other):
    store = FirefoxPolicy(str(policy_file))
    store.add(LABEL, ours)
    store.add("Fleet_Root_CA-fedcba9876543210", other)
    install = read(policy_file)["policies"]["Certificates"]["Install"]
    assert install == [our_entry(policy_file), our_entry(policy_file, "Fleet_Root_CA-fedcba9876543210")]
    store.remove(LABEL, ours)
    assert read(policy_file)["policies"]["Certificates"]["Install"] == [
        our_entry(policy_file, "Fleet_Root_CA-fedcba9876543210")]


@pytest.mark.parametrize("content, words", [
    ("{ not json", "is not valid JSON"),
    ("", "is not valid JSON"),
    ("[1, 2]", "the top level is not an object"),
    ('{"policies": []}', '"policies" is not an object'),
    ('{"policies": {"Certificates": true}}', '"policies.Certificates" is not an object'),
    ('{"policies": {"Certificates": {"Install": "ca.pem"}}}', '"policies.Certificates.Install" is not a list'),
])
def test_a_file_we_cannot_merge_is_refused_and_left_alone(policy_file, ours, content, words):
    policy_file.parent.mkdir(parents=True)
    policy_file.write_text(content)
    store = FirefoxPolicy(str(policy_file))
    for action in (lambda: store.check(LABEL, ours, "present"), lambda: store.add(LABEL, ours),
                   lambda: store.remove(LABEL, ours)):
        with pytest.raises(TrustAnchorError) as err:
            action()
        assert str(policy_file) in str(err.value) and words in str(err.value)
    assert policy_file.read_text() == content
    assert not os.path.exists(our_entry(policy_file))


def test_a_symbolic_link_stays_a_link(tmp_path, ours):
    real = tmp_path / "real" / "policies.json"
    real.parent.mkdir()
    real.write_text('{"policies": {"DisableTelemetry": true}}')
    link_dir = tmp_path / "etc"
    link_dir.mkdir()
    os.symlink(str(real), str(link_dir / "policies.json"))
    store = FirefoxPolicy(str(link_dir / "policies.json"))
    assert store.add(LABEL, ours) is True
    assert os.path.islink(str(link_dir / "policies.json"))
    assert read(real)["policies"]["DisableTelemetry"] is True
    assert read(real)["policies"]["Certificates"]["Install"] == [str(link_dir / "certificates" / (LABEL + ".crt"))]


@pytest.mark.parametrize("path, words", [("relative/policies.json", "must be an absolute path"), ("", "absolute")])
def test_bad_policy_paths_are_refused(path, words):
    with pytest.raises(TrustAnchorError) as err:
        FirefoxPolicy(path)
    assert words in str(err.value)


def test_a_directory_in_place_of_the_file_is_refused(tmp_path):
    with pytest.raises(TrustAnchorError) as err:
        FirefoxPolicy(str(tmp_path))
    assert "is a directory" in str(err.value) and str(tmp_path) in str(err.value)


class FakeModule:
    def __init__(self, params, check_mode=False):
        self.params = dict(certificate=None, src=None, label=LABEL, stores=["firefox_policy"], state="present",
                           bundle_path=None, nss_databases=None, nss_users=None)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)

    @staticmethod
    def fail_json(**kwargs):
        raise AssertionError("fail_json: %r" % kwargs)


def test_module_check_mode_diff_and_idempotence(policy_file, ours):
    params = dict(certificate=der_to_pem(ours), firefox_policy_path=str(policy_file))
    check = trust_anchor.run_module(FakeModule(params, check_mode=True))
    assert check["changed"] is True
    assert check["stores"]["firefox_policy"] == dict(changed=True, path=str(policy_file))
    assert check["diff"] == [dict(before="absent\n", after="present: %s (sha256 %s)\n" % (LABEL, sha256_hex(ours)),
                                  before_header="firefox_policy: %s" % policy_file,
                                  after_header="firefox_policy: %s" % policy_file)]
    assert not policy_file.parent.exists()
    assert trust_anchor.run_module(FakeModule(params))["changed"] is True
    assert read(policy_file)["policies"]["Certificates"]["Install"] == [our_entry(policy_file)]
    assert trust_anchor.run_module(FakeModule(params))["changed"] is False
    absent = dict(params, state="absent")
    check_absent = trust_anchor.run_module(FakeModule(absent, check_mode=True))
    assert check_absent["changed"] is True and os.path.exists(our_entry(policy_file))
    assert trust_anchor.run_module(FakeModule(absent))["changed"] is True
    assert trust_anchor.run_module(FakeModule(absent))["changed"] is False
    assert read(policy_file) == {"policies": {}}
