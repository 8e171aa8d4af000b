# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet.pki.trust_anchor, store system, Arch family: the real module and the real p11-kit.

Arch keeps its trust sources where p11-kit reads them (``/etc/ca-certificates/trust-source``
and ``/usr/share/ca-certificates/trust-source``), and ``update-ca-trust`` extracts them with
``trust extract`` into ``/etc/ca-certificates/extracted``; ``/etc/ssl/certs/ca-certificates.crt``
is a link to the extracted ``tls-ca-bundle.pem``.

This Debian machine gets that layout inside a private mount namespace
(``unshare --mount --propagation private``), on tmpfs mounts only:

- ``/etc/os-release`` says ``ID=arch`` (a bind mount), so the module picks the Arch backend;
- Debian's p11-kit trust module is configured the Arch way, with
  ``x-init-reserved: paths=/etc/ca-certificates/trust-source:/usr/share/ca-certificates/trust-source``
  (Debian builds it with ``/etc/ssl/certs/ca-certificates.crt`` as its only path);
- the "distribution" anchors are Debian's own CA bundle, placed where Arch ships Mozilla's;
- ``update-ca-trust`` is the one stand-in: Debian does not ship it, so a short script runs the
  ``trust extract`` calls of Arch's script (the real ``trust`` binary) and records its argv.

Clients are the real curl, Python's default ``ssl`` context and ``trust list``.

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
from trust_namespace import (  # noqa: E402  pylint: disable=wrong-import-position
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


TRUST_MODULE = "/usr/share/p11-kit/modules/p11-kit-trust.module"
ETC_TRUST = "/etc/ca-certificates"
SHARE_TRUST = "/usr/share/ca-certificates"
ANCHOR_DIR = "/etc/ca-certificates/trust-source/anchors"
EXTRACTED = "/etc/ca-certificates/extracted/tls-ca-bundle.pem"
CERTS_DIR = "/etc/ssl/certs"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
SBIN = "/usr/local/sbin"
CALLS = "/etc/ca-certificates/update-ca-trust.calls"
TRUST_PATHS = "/etc/ca-certificates/trust-source:/usr/share/ca-certificates/trust-source"

ARCH_OS_RELEASE = """NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
"""

# The trust extract calls of Arch's update-ca-trust (ca-certificates-utils), with the real trust.
UPDATE_CA_TRUST = """#!/bin/sh
set -eu
echo "$*" >> %(calls)s
export P11_KIT_NO_USER_CONFIG=1
DEST=/etc/ca-certificates/extracted
trust extract --format=openssl-bundle --filter=certificates --overwrite --comment $DEST/ca-bundle.trust.crt
trust extract --format=pem-bundle --filter=ca-anchors --overwrite --comment --purpose server-auth $DEST/tls-ca-bundle.pem
trust extract --format=pem-bundle --filter=ca-anchors --overwrite --comment --purpose email $DEST/email-ca-bundle.pem
trust extract --format=pem-directory-hash --filter=ca-anchors --overwrite --purpose server-auth $DEST/cadir
""" % dict(calls=CALLS)


# --- inside the namespace -------------------------------------------------------------------

def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _bind_file(text, target, staging):
    source = os.path.join(staging, os.path.basename(target))
    _write(source, text)
    subprocess.run(["mount", "--bind", source, target], check=True)


def _arch_layout(staging):
    """Turn this namespace's view of the machine into Arch's trust layout (tmpfs and bind mounts only)."""
    with open(SYSTEM_BUNDLE) as f:
        debian_bundle = f.read()
    # Writable copies of the directories involved, then the Arch pieces inside them.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", ETC_TRUST], check=True)
    for directory in ("trust-source/anchors", "trust-source/blocklist", "extracted"):
        os.makedirs(os.path.join(ETC_TRUST, directory))
    hide_with_copy(SHARE_TRUST, staging)
    os.makedirs(os.path.join(SHARE_TRUST, "trust-source/anchors"))
    _write(os.path.join(SHARE_TRUST, "trust-source/anchors/distribution.crt"), debian_bundle)
    hide_with_copy(CERTS_DIR, staging)
    os.unlink(SYSTEM_BUNDLE)
    os.symlink("../../ca-certificates/extracted/tls-ca-bundle.pem", SYSTEM_BUNDLE)
    hide_with_copy(SBIN, staging)
    _write(os.path.join(SBIN, "update-ca-trust"), UPDATE_CA_TRUST, 0o755)
    with open(TRUST_MODULE) as f:
        module = f.read()
    if "\nx-init-reserved:" not in module:
        raise SystemExit("%s has no x-init-reserved line; cannot point p11-kit at Arch's paths" % TRUST_MODULE)
    module = "\n".join("x-init-reserved: paths=%s" % TRUST_PATHS if line.startswith("x-init-reserved:") else line
                       for line in module.split("\n"))
    _bind_file(module, TRUST_MODULE, staging)
    _bind_file(ARCH_OS_RELEASE, "/etc/os-release", staging)
    for path in (ETC_TRUST, SHARE_TRUST, CERTS_DIR, SBIN):
        if not mount_point(path, "tmpfs"):
            raise SystemExit("%s is not a private tmpfs; refusing to run" % path)
    for path in (TRUST_MODULE, os.path.realpath("/etc/os-release")):
        if not mount_point(path):
            raise SystemExit("%s is not bind-mounted; refusing to run" % path)
    # The distribution CAs, extracted once, as the ca-certificates package install would.
    subprocess.run([os.path.join(SBIN, "update-ca-trust"), "install"], check=True)


def _trust_list():
    proc = subprocess.run(["trust", "list", "--filter=ca-anchors"], env=dict(os.environ, P11_KIT_NO_USER_CONFIG="1"),
                          capture_output=True, text=True, check=False)
    return dict(rc=proc.returncode, out=proc.stdout)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _calls():
    return (_read(CALLS) or "").splitlines()


def inner(config_path):
    """The scenario, run by ``unshare --mount --propagation private``; writes what it saw."""
    with open(config_path) as f:
        config = json.load(f)
    seen = {}
    refuse_outside_namespace(config["outer_namespace"])
    staging = tempfile.mkdtemp(prefix="ta-arch-")
    # Staging lives on its own tmpfs, so nothing of this run lands on the machine's disk.
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", staging], check=True)
    try:
        _arch_layout(staging)
        _scenario(config, seen)
    finally:
        with open(config["observations"], "w") as f:
            json.dump(seen, f, indent=2)


def _ansible(config, module_args, *flags):
    return run_trust_anchor(config["work"], config["collections"], config["target_python"], module_args, *flags)


def _scenario(config, seen):
    url = config["url"]
    anchor = os.path.join(ANCHOR_DIR, config["label"] + ".crt")
    present = dict(src=config["ca"], stores=["system"])
    absent = dict(present, state="absent")
    with open(config["ca"]) as f:
        ca_pem = f.read()
    seen["bundle_is_link"] = os.readlink(SYSTEM_BUNDLE)
    seen["distribution_cas"] = _read(SYSTEM_BUNDLE).count("-----BEGIN CERTIFICATE-----")
    seen["calls_setup"] = _calls()
    seen["curl_before"] = curl(url)
    seen["python_before"] = python_client(url)
    seen["trust_list_before"] = _trust_list()
    seen["check_present"] = _ansible(config, present, "--check", "--diff")
    seen["file_after_check"] = _read(anchor)
    seen["calls_after_check"] = _calls()
    seen["present"] = _ansible(config, present, "--diff")
    seen["file_after_present"] = _read(anchor)
    seen["mode_after_present"] = oct(os.stat(anchor).st_mode & 0o777) if os.path.exists(anchor) else None
    seen["anchor_dir_after_present"] = sorted(os.listdir(ANCHOR_DIR))
    seen["calls_after_present"] = _calls()
    seen["extracted_has_ca"] = ca_pem in (_read(EXTRACTED) or "")
    seen["trust_list_after"] = _trust_list()
    seen["curl_after"] = curl(url)
    seen["python_after"] = python_client(url)
    seen["present_again"] = _ansible(config, present)
    seen["calls_after_present_again"] = _calls()
    seen["check_absent"] = _ansible(config, absent, "--check")
    seen["file_after_check_absent"] = _read(anchor)
    seen["absent"] = _ansible(config, absent, "--diff")
    seen["file_after_absent"] = _read(anchor)
    seen["calls_after_absent"] = _calls()
    seen["extracted_has_ca_after_absent"] = ca_pem in (_read(EXTRACTED) or "")
    seen["distribution_cas_after_absent"] = _read(SYSTEM_BUNDLE).count("-----BEGIN CERTIFICATE-----")
    seen["trust_list_after_absent"] = _trust_list()
    seen["curl_after_absent"] = curl(url)
    seen["python_after_absent"] = python_client(url)
    seen["absent_again"] = _ansible(config, absent)
    seen["calls_at_end"] = _calls()
    seen["done"] = True


# --- outside: fixtures and assertions -------------------------------------------------------

def _missing_prerequisites():
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux (mount namespaces)"
    for tool in ("unshare", "mount", "curl", "trust", "cp"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return "%s not found (trust is in the p11-kit package)" % tool
    for path in (TRUST_MODULE, SYSTEM_BUNDLE, ETC_TRUST, SHARE_TRUST, SBIN):
        if not os.path.exists(path):
            return "%s not found: needs a Debian-like machine with ca-certificates and p11-kit" % path
    if not os.path.exists(os.path.join(BIN, "ansible")):
        return "ansible is not installed next to %s" % sys.executable
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisites() is not None, reason=str(_missing_prerequisites()))


def _machine_state():
    """What must be the same after the run: the real store, os-release and p11-kit's config."""
    return dict(
        bundle=digest(SYSTEM_BUNDLE), os_release=digest("/etc/os-release"), module=digest(TRUST_MODULE),
        etc_trust=sorted(os.listdir(ETC_TRUST)), sbin=sorted(os.listdir(SBIN)),
        share_trust=os.path.exists(os.path.join(SHARE_TRUST, "trust-source")),
    )


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("trust_system_arch"))
    pki = make_pki(work, "fleet.pki Arch test CA")
    before = _machine_state()
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
    # The label minus its fingerprint suffix is the CA's CN, which p11-kit shows as its label.
    observations["cn"] = pki["label"].rsplit("-", 1)[0].replace("_", " ")
    observations["machine_unchanged"] = before == _machine_state()
    return observations


def test_the_namespace_has_arch_s_layout(seen):
    assert seen["bundle_is_link"] == "../../ca-certificates/extracted/tls-ca-bundle.pem"
    # The distribution anchors went through the real p11-kit: Debian's bundle has well over 100 CAs.
    assert seen["distribution_cas"] > 100
    assert seen["calls_setup"] == ["install"]


def test_before_install_nothing_trusts_the_server(seen):
    # Negative controls: curl exits 60 (peer certificate cannot be authenticated).
    assert seen["curl_before"]["rc"] == 60, seen["curl_before"]
    assert seen["python_before"]["rc"] == 3
    assert "CERTIFICATE_VERIFY_FAILED" in seen["python_before"]["out"]
    assert seen["trust_list_before"]["rc"] == 0
    assert seen["cn"] not in seen["trust_list_before"]["out"]


def test_check_mode_reports_a_change_and_touches_nothing(seen):
    result = ok(seen["check_present"])
    assert result["changed"] is True
    assert result["stores"]["system"]["changed"] is True
    assert seen["file_after_check"] is None
    assert seen["calls_after_check"] == ["install"]


def test_present_writes_the_anchor_where_p11_kit_reads_it_and_refreshes_once(seen):
    result = ok(seen["present"])
    assert result["changed"] is True
    assert result["stores"]["system"] == dict(changed=True, path="%s/%s.crt" % (ANCHOR_DIR, seen["label"]))
    assert seen["file_after_present"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert seen["mode_after_present"] == "0o644"
    assert seen["anchor_dir_after_present"] == [seen["label"] + ".crt"]
    assert seen["calls_after_present"] == ["install", "extract"]
    assert seen["extracted_has_ca"] is True


def test_after_install_p11_kit_curl_and_python_trust_the_ca(seen):
    assert seen["trust_list_after"]["rc"] == 0
    assert "label: %s" % seen["cn"] in seen["trust_list_after"]["out"]
    assert seen["curl_after"]["rc"] == 0, seen["curl_after"]
    assert seen["python_after"] == dict(rc=0, out="200 fleet-ok")


def test_second_run_changes_nothing_and_runs_nothing(seen):
    assert ok(seen["present_again"])["changed"] is False
    assert seen["present_again"]["stores"]["system"]["changed"] is False
    assert seen["calls_after_present_again"] == ["install", "extract"]


def test_check_mode_absent_keeps_the_file(seen):
    assert ok(seen["check_absent"])["changed"] is True
    assert seen["file_after_check_absent"] == seen["file_after_present"]


def test_absent_removes_the_ca_and_everything_refuses_again(seen):
    result = ok(seen["absent"])
    assert result["changed"] is True
    assert result.get("warnings", []) == []
    assert seen["file_after_absent"] is None
    assert seen["calls_after_absent"] == ["install", "extract", "extract"]
    assert seen["extracted_has_ca_after_absent"] is False
    # Only our CA went away; the distribution's are all still there.
    assert seen["distribution_cas_after_absent"] == seen["distribution_cas"]
    assert seen["cn"] not in seen["trust_list_after_absent"]["out"]
    assert seen["curl_after_absent"]["rc"] == 60
    assert seen["python_after_absent"]["rc"] == 3
    assert ok(seen["absent_again"])["changed"] is False
    assert seen["calls_at_end"] == ["install", "extract", "extract"]


def test_the_machine_was_not_touched(seen):
    assert seen["done"]
    assert seen["machine_unchanged"]


if __name__ == "__main__" and sys.argv[1:2] == ["--inner"]:
    inner(sys.argv[2])
