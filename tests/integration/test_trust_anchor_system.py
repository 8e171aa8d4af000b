# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet.pki.trust_anchor, store system, for real: through ansible, on this Debian machine.

The whole scenario runs inside a private mount namespace (``unshare --mount --propagation
private``) where tmpfs copies hide the real ``/usr/local/share/ca-certificates`` and
``/etc/ssl/certs``, so the machine's own trust store is never touched. Clients are the real
curl and Python's default ``ssl`` context, talking to a loopback HTTPS server whose leaf is
signed by a throwaway CA.

This file is also the program that runs inside the namespace (``--inner``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# BIN and make_pki are imported for test_trust_anchor_bundle.py, which takes them from here.
from trust_namespace import (  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
    BIN,
    bare_python,
    collections_farm,
    curl,
    digest,
    hide_with_copy,
    make_pki,
    mount_point,
    ok,
    python_client,
    refuse_outside_namespace,
    run_in_namespace,
    run_trust_anchor,
    start_server,
    stop_server,
)


ANCHOR_DIR = "/usr/local/share/ca-certificates"
CERTS_DIR = "/etc/ssl/certs"
HOOKS_DIR = "/etc/ca-certificates/update.d"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


# --- inside the namespace -------------------------------------------------------------------

def _ansible(config, module_args, *flags):
    return run_trust_anchor(config["work"], config["collections"], config["target_python"], module_args, *flags)


def _bundle_has(pem):
    with open(SYSTEM_BUNDLE) as f:
        return pem in f.read()


def _anchor_file(label):
    try:
        with open(os.path.join(ANCHOR_DIR, label + ".crt")) as f:
            return f.read()
    except FileNotFoundError:
        return None


def inner(config_path):
    """The scenario, run by ``unshare --mount --propagation private``; writes what it saw."""
    with open(config_path) as f:
        config = json.load(f)
    seen = {}

    def save():
        with open(config["observations"], "w") as f:
            json.dump(seen, f, indent=2)

    # Refuse to touch anything unless we really are in another mount namespace.
    refuse_outside_namespace(config["outer_namespace"])
    staging = tempfile.mkdtemp(prefix="ta-ns-")
    hide_with_copy(ANCHOR_DIR, staging)
    hide_with_copy(CERTS_DIR, staging)
    # No hooks: Debian's Java hook would process dpkg triggers on the real machine.
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", HOOKS_DIR], check=True)
    for path in (ANCHOR_DIR, CERTS_DIR, HOOKS_DIR):
        if not mount_point(path, "tmpfs"):
            raise SystemExit("%s is not a private tmpfs; refusing to run" % path)

    try:
        _scenario(config, seen)
    finally:
        save()


def _scenario(config, seen):
    url = config["url"]
    present = dict(src=config["ca"], stores=["system"])
    absent = dict(present, state="absent")
    seen["curl_before"] = curl(url)
    seen["python_before"] = python_client(url)
    seen["check_present"] = _ansible(config, present, "--check", "--diff")
    seen["file_after_check"] = _anchor_file(config["label"])
    seen["present"] = _ansible(config, present, "--diff")
    seen["file_after_present"] = _anchor_file(config["label"])
    seen["openssl_capath"] = subprocess.run(
        ["openssl", "verify", "-CApath", CERTS_DIR, config["leaf"]], capture_output=True, text=True, check=False).returncode
    seen["curl_after"] = curl(url)
    seen["python_after"] = python_client(url)
    seen["present_again"] = _ansible(config, present)
    # The file is in place but the bundle lost it (someone ran update-ca-certificates with a
    # broken file list, say): the module must notice and refresh.
    with open(SYSTEM_BUNDLE) as f:
        full = f.read()
    with open(config["ca"]) as f:
        ca_pem = f.read()
    with open(SYSTEM_BUNDLE, "w") as f:
        f.write(full.replace(ca_pem, ""))
    seen["bundle_has_ca_damaged"] = _bundle_has(ca_pem)
    seen["present_repair"] = _ansible(config, present)
    seen["bundle_has_ca_repaired"] = _bundle_has(ca_pem)
    seen["curl_repaired"] = curl(url)
    seen["check_absent"] = _ansible(config, absent, "--check")
    seen["file_after_check_absent"] = _anchor_file(config["label"])
    seen["absent"] = _ansible(config, absent, "--diff")
    seen["file_after_absent"] = _anchor_file(config["label"])
    seen["curl_after_absent"] = curl(url)
    seen["python_after_absent"] = python_client(url)
    seen["absent_again"] = _ansible(config, absent)
    seen["not_a_ca"] = _ansible(config, dict(src=config["leaf"], stores=["system"]))
    seen["done"] = True


# --- outside: fixtures and assertions -------------------------------------------------------

def _missing_prerequisites():
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux (mount namespaces)"
    for tool in ("unshare", "mount", "curl", "openssl", "update-ca-certificates", "cp"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return "%s not found" % tool
    if not os.path.isdir(ANCHOR_DIR) or not os.path.isdir(HOOKS_DIR):
        return "not a Debian-family machine with ca-certificates"
    if not os.path.exists(os.path.join(BIN, "ansible")):
        return "ansible is not installed next to %s" % sys.executable
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisites() is not None, reason=str(_missing_prerequisites()))


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("trust_system"))
    pki = make_pki(work)
    real_store = (sorted(os.listdir(ANCHOR_DIR)), digest(SYSTEM_BUNDLE))
    proc, port = start_server(pki["leaf"], pki["leaf_key"])
    try:
        config = dict(
            url="https://127.0.0.1:%d/" % port, work=work,
            ca=pki["ca"], leaf=pki["leaf"], label=pki["label"],
            collections=collections_farm(work), target_python=bare_python(work),
            observations=os.path.join(work, "seen.json"),
            outer_namespace=os.readlink("/proc/self/ns/mnt"),
        )
        observations = run_in_namespace(__file__, config)
    finally:
        stop_server(proc)
    observations["label"] = pki["label"]
    observations["real_store_unchanged"] = real_store == (sorted(os.listdir(ANCHOR_DIR)), digest(SYSTEM_BUNDLE))
    return observations


def test_before_install_clients_refuse_the_server(seen):
    # Negative control: curl exits 60 (peer certificate cannot be authenticated).
    assert seen["curl_before"]["rc"] == 60, seen["curl_before"]
    assert seen["python_before"]["rc"] == 3
    assert "CERTIFICATE_VERIFY_FAILED" in seen["python_before"]["out"]


def test_check_mode_reports_a_change_and_writes_nothing(seen):
    result = ok(seen["check_present"])
    assert result["changed"] is True
    assert result["stores"]["system"]["changed"] is True
    assert seen["file_after_check"] is None
    assert result["diff"][0]["before"] == "absent\n"


def test_present_installs_the_anchor_file(seen):
    result = ok(seen["present"])
    assert result["changed"] is True
    assert result["label"] == seen["label"]
    assert result["stores"]["system"] == dict(changed=True, path="%s/%s.crt" % (ANCHOR_DIR, seen["label"]))
    assert seen["file_after_present"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert result["diff"][0]["before"] == "absent\n"
    assert result["diff"][0]["after"].startswith("present: %s (sha256 " % seen["label"])


def test_after_install_curl_and_python_trust_the_server(seen):
    assert seen["curl_after"]["rc"] == 0, seen["curl_after"]
    assert seen["python_after"] == dict(rc=0, out="200 fleet-ok")
    assert seen["openssl_capath"] == 0


def test_second_run_changes_nothing(seen):
    assert ok(seen["present_again"])["changed"] is False
    assert seen["present_again"]["stores"]["system"]["changed"] is False


def test_a_bundle_that_lost_the_ca_is_repaired(seen):
    # (curl would still pass here through the hash links in /etc/ssl/certs; look at the bundle.)
    assert seen["bundle_has_ca_damaged"] is False
    assert ok(seen["present_repair"])["changed"] is True
    assert seen["bundle_has_ca_repaired"] is True
    assert seen["curl_repaired"]["rc"] == 0


def test_check_mode_absent_keeps_the_file(seen):
    assert ok(seen["check_absent"])["changed"] is True
    assert seen["file_after_check_absent"] == seen["file_after_present"]


def test_absent_removes_the_ca_and_clients_refuse_again(seen):
    result = ok(seen["absent"])
    assert result["changed"] is True
    assert result["diff"][0]["after"] == "absent\n"
    assert seen["file_after_absent"] is None
    assert seen["curl_after_absent"]["rc"] == 60
    assert seen["python_after_absent"]["rc"] == 3
    assert ok(seen["absent_again"])["changed"] is False


def test_a_leaf_is_refused_naming_the_host(seen):
    result = seen["not_a_ca"]
    assert result.get("failed")
    assert "on host localhost" in result["msg"] and "not a CA certificate" in result["msg"]


def test_the_real_trust_store_was_not_touched(seen):
    assert seen["done"]
    assert seen["real_store_unchanged"]


if __name__ == "__main__" and sys.argv[1:2] == ["--inner"]:
    inner(sys.argv[2])
