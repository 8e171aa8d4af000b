# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet.pki.trust_anchor, store bundle, for real: through ansible-playbook, with openssl as the client.

The bundle lives in a temp directory, so no namespace is needed. The CA, the loopback HTTPS
server and the ansible runner come from test_trust_anchor_system.py.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_trust_anchor_system import (  # noqa: E402  pylint: disable=wrong-import-position
    BIN,
    bare_python,
    collections_farm,
    make_pki,
    run_trust_anchor,
    start_server,
    stop_server,
)


def _missing_prerequisites():
    if not shutil.which("openssl"):
        return "openssl not found"
    if not os.path.exists(os.path.join(BIN, "ansible-playbook")):
        return "ansible-playbook is not installed next to %s" % sys.executable
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisites() is not None, reason=str(_missing_prerequisites()))


def s_client(port, bundle):
    """openssl as a client that trusts exactly the bundle; rc 0 only when the server verifies."""
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-verify_return_error", "-verify_ip", "127.0.0.1",
         "-CAfile", bundle, "-no-CApath", "-no-CAstore"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
    )
    return dict(rc=proc.returncode, ok="Verify return code: 0 (ok)" in proc.stdout)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("trust_bundle"))
    pki = make_pki(work)
    others = []
    for name in ("other1", "other2"):
        os.mkdir(os.path.join(work, name))
        others.append(make_pki(os.path.join(work, name)))
    bundle = os.path.join(work, "app", "ca-bundle.pem")
    os.mkdir(os.path.dirname(bundle))
    original = b"# CAs this application trusts (kept by hand)\n" + read(others[0]["ca"]) + b"\n" + read(others[1]["ca"])
    with open(bundle, "wb") as f:
        f.write(original)
    os.chmod(bundle, 0o640)

    collections = collections_farm(work)
    python = bare_python(work)

    def run(args, *flags, **kwargs):
        return run_trust_anchor(work, collections, python, args, *flags, **kwargs)

    present = dict(src=pki["ca"], stores=["bundle"], bundle_path=bundle)
    absent = dict(present, state="absent")
    s = dict(pki=pki, bundle=bundle, original=original)
    proc, port = start_server(pki["leaf"], pki["leaf_key"])
    try:
        s["client_before"] = s_client(port, bundle)
        s["check_present"] = run(present, "--check", "--diff")
        s["after_check_present"] = read(bundle)
        s["present"] = run(present, "--diff")
        s["after_present"] = read(bundle)
        s["mode_after_present"] = mode(bundle)
        s["client_after"] = s_client(port, bundle)
        s["present_again"] = run(present)
        s["after_present_again"] = read(bundle)
        s["check_absent"] = run(absent, "--check", "--diff")
        s["after_check_absent"] = read(bundle)
        s["absent"] = run(absent, "--diff")
        s["after_absent"] = read(bundle)
        s["client_after_absent"] = s_client(port, bundle)
        s["absent_again"] = run(absent)
    finally:
        stop_server(proc)

    # Defaults from the host's variables, a new file in new directories, PEM text and a label.
    new_bundle = os.path.join(work, "new", "dir", "ca.pem")
    inventory = os.path.join(work, "hosts.yml")
    with open(inventory, "w") as f:
        yaml.safe_dump({"all": {"hosts": {"client1": {
            "ansible_connection": "local",
            "base": work,
            "fleet_pki_trust_stores": ["bundle"],
            "fleet_pki_bundle_path": "{{ base }}/new/dir/ca.pem",
        }}}}, f)
    with open(pki["ca"]) as f:
        pem_text = f.read()
    s["new_bundle"] = new_bundle
    s["host_vars"] = run(dict(certificate=pem_text, label="fleet-root-2026"), inventory=inventory)
    s["host_vars_again"] = run(dict(src=pki["ca"]), inventory=inventory)  # other label, same CA: present

    # Bad input: each fails before anything is written, naming the host.
    junk = os.path.join(work, "junk.txt")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    two = os.path.join(work, "two.pem")
    with open(two, "wb") as f:
        f.write(read(others[0]["ca"]) + read(others[1]["ca"]))
    s["no_bundle_path"] = run(dict(src=pki["ca"], stores=["bundle"]))
    s["leaf"] = run(dict(src=pki["leaf"], stores=["bundle"], bundle_path=bundle))
    s["junk"] = run(dict(src=junk, stores=["bundle"], bundle_path=bundle))
    s["two"] = run(dict(src=two, stores=["bundle"], bundle_path=bundle))
    s["missing_src"] = run(dict(src="no-such-ca.pem", stores=["bundle"], bundle_path=bundle))
    s["macos"] = run(dict(src=pki["ca"], stores=["bundle", "macos"], bundle_path=bundle))
    s["relative"] = run(dict(src=pki["ca"], stores=["bundle"], bundle_path="relative/ca.pem"))
    s["after_errors"] = read(bundle)
    return s


def ok(result):
    assert not result.get("failed"), result
    return result


def failed(result, *words):
    assert result.get("failed"), result
    for word in words:
        assert word in result["msg"], result["msg"]


def test_before_install_openssl_refuses_the_server(seen):
    # Negative control: the bundle does not hold the CA yet.
    assert seen["client_before"] == dict(rc=1, ok=False)


def test_check_mode_reports_a_change_and_writes_nothing(seen):
    result = ok(seen["check_present"])
    assert result["changed"] is True and result["stores"]["bundle"]["changed"] is True
    assert seen["after_check_present"] == seen["original"]
    assert result["diff"][0]["before"] == "absent\n"
    assert result["diff"][0]["after"].startswith("present: %s (sha256 " % seen["pki"]["label"])
    assert result["diff"][0]["before_header"] == "bundle: %s" % seen["bundle"]


def test_present_appends_our_block_and_keeps_the_rest(seen):
    result = ok(seen["present"])
    assert result["changed"] is True
    assert result["stores"] == {"bundle": {"changed": True, "path": seen["bundle"]}}
    assert seen["after_present"].startswith(seen["original"])
    added = seen["after_present"][len(seen["original"]):]
    assert added.startswith(b"# fleet.pki: %s\n-----BEGIN CERTIFICATE-----\n" % seen["pki"]["label"].encode())
    assert seen["mode_after_present"] == 0o640


def test_after_install_openssl_verifies_the_server(seen):
    assert seen["client_after"] == dict(rc=0, ok=True)


def test_second_run_changes_nothing(seen):
    assert ok(seen["present_again"])["changed"] is False
    assert seen["after_present_again"] == seen["after_present"]


def test_check_mode_absent_keeps_the_file(seen):
    result = ok(seen["check_absent"])
    assert result["changed"] is True
    assert result["diff"][0]["after"] == "absent\n"
    assert seen["after_check_absent"] == seen["after_present"]


def test_absent_restores_the_other_certificates(seen):
    assert ok(seen["absent"])["changed"] is True
    assert seen["after_absent"] == seen["original"]  # byte for byte
    assert seen["client_after_absent"]["ok"] is False
    assert ok(seen["absent_again"])["changed"] is False


def test_host_variables_supply_stores_and_bundle_path(seen):
    result = ok(seen["host_vars"])
    assert result["changed"] is True
    assert result["label"] == "fleet-root-2026"
    assert result["stores"] == {"bundle": {"changed": True, "path": seen["new_bundle"]}}
    assert read(seen["new_bundle"]).startswith(b"# fleet.pki: fleet-root-2026\n-----BEGIN CERTIFICATE-----\n")
    assert mode(seen["new_bundle"]) == 0o644
    assert mode(os.path.dirname(seen["new_bundle"])) == 0o755
    # The same CA under its default label counts as present: no second copy.
    again = ok(seen["host_vars_again"])
    assert again["changed"] is False and again["label"] == seen["pki"]["label"]


def test_bad_input_fails_clearly_and_writes_nothing(seen):
    failed(seen["no_bundle_path"], "on host localhost", "store bundle needs bundle_path")
    failed(seen["leaf"], "on host localhost", seen["pki"]["leaf"], "not a CA certificate")
    failed(seen["junk"], "on host localhost", "junk.txt", "not a PEM certificate")
    failed(seen["two"], "on host localhost", "exactly one certificate, found 2")
    failed(seen["missing_src"], "on host localhost", "no-such-ca.pem", "not found")
    failed(seen["macos"], "store macos works on macOS only; this host runs Linux")  # and the bundle stays untouched
    failed(seen["relative"], "bundle_path must be an absolute path")
    assert seen["after_errors"] == seen["after_absent"]
