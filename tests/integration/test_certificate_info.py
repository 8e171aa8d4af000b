# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.certificate_info and its filter through a real ansible-playbook run on localhost.

The CA, the keys and the certificates are made by the openssl CLI, independently of fleet.pki,
and the expected facts are read back from openssl too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from trust_namespace import BIN, bare_python, collections_farm

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")

PASSPHRASE = "s3cret-Fleet-passphrase"

OPENSSL_CNF = """
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1,DNS:dev1.fleet.test
"""

PLAYBOOK = """
- name: Inspect with fleet.pki.certificate_info
  hosts: localhost
  gather_facts: false
  vars:
    d: "{{ work }}"
    ansible_python_interpreter: "{{ venv_python }}"
  tasks:
    - name: Certificate with key match and chain
      fleet.pki.certificate_info:
        path: "{{ d }}/leaf.crt"
        private_key_path: "{{ d }}/leaf.key"
        passphrase: "{{ passphrase }}"
        ca_path: "{{ d }}/ca.crt"
        expected_name: 127.0.0.1
      register: r_leaf

    - name: Encrypted key
      fleet.pki.certificate_info:
        path: "{{ d }}/leaf.key"
        passphrase: "{{ passphrase }}"
      register: r_key

    - name: Encrypted key without its passphrase
      fleet.pki.certificate_info:
        path: "{{ d }}/leaf.key"
      register: r_nopass
      ignore_errors: true

    - name: Content against the wrong CA, with a foreign key and a wrong name
      fleet.pki.certificate_info:
        content: "{{ lookup('ansible.builtin.file', d ~ '/leaf.crt') }}"
        private_key_content: "{{ lookup('ansible.builtin.file', d ~ '/other.key') }}"
        ca_content: "{{ lookup('ansible.builtin.file', d ~ '/other.crt') }}"
        expected_name: 10.9.9.9
      register: r_wrong

    - name: Base64 DER content, validity a year later
      fleet.pki.certificate_info:
        content: "{{ lookup('ansible.builtin.file', d ~ '/leaf.der.b64') }}"
        ca_path: "{{ d }}/ca.crt"
        valid_at: "2099-01-01T00:00:00Z"
      register: r_der

    - name: CSR
      fleet.pki.certificate_info:
        path: "{{ d }}/leaf.csr"
      register: r_csr

    - name: Garbage
      fleet.pki.certificate_info:
        path: "{{ d }}/garbage.bin"
      register: r_garbage
      ignore_errors: true

    - name: Without cryptography on the target
      fleet.pki.certificate_info:
        path: "{{ d }}/leaf.crt"
      vars:
        ansible_python_interpreter: "{{ bare }}"
      register: r_bare
      ignore_errors: true

    - name: The filter on the controller
      ansible.builtin.set_fact:
        f_leaf: "{{ lookup('ansible.builtin.file', d ~ '/leaf.crt') | fleet.pki.certificate_info(now=r_leaf.not_before) }}"
        f_chain: "{{ (lookup('ansible.builtin.file', d ~ '/leaf.crt') ~ '\\n' ~ lookup('ansible.builtin.file', d ~ '/ca.crt'))
                     | fleet.pki.certificate_info }}"

    - name: Assert on the filter's facts
      ansible.builtin.assert:
        that:
          - f_leaf.sans == ['IP:127.0.0.1', 'DNS:dev1.fleet.test']
          - f_chain.type == 'bundle'
          - f_chain.certificates | map(attribute='is_ca') | list == [false, true]
          - f_leaf.days_left == 30
          - f_leaf.fingerprint_sha256 == r_leaf.fingerprint_sha256
      register: r_assert
      ignore_errors: true

    - name: The filter on garbage
      ansible.builtin.debug:
        msg: "{{ lookup('ansible.builtin.file', d ~ '/truncated.pem') | fleet.pki.certificate_info }}"
      register: r_filter_bad
      ignore_errors: true

    - name: Save the results
      ansible.builtin.copy:
        content: "{{ dict(leaf=r_leaf, key=r_key, nopass=r_nopass, wrong=r_wrong, der=r_der, csr=r_csr,
                          garbage=r_garbage, bare=r_bare, f_leaf=f_leaf, f_chain=f_chain, assert=r_assert,
                          filter_bad=r_filter_bad) | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      check_mode: false
"""


def openssl(*args, **kwargs):
    return subprocess.run(["openssl", *args], capture_output=True, check=True, text=True, **kwargs).stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("certinfo")
    d = str(work)
    cnf = os.path.join(d, "openssl.cnf")
    with open(cnf, "w") as handle:
        handle.write(OPENSSL_CNF)
    for ca in ("ca", "other"):
        openssl("req", "-x509", "-new", "-config", cnf, "-extensions", "v3_ca", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{d}/{ca}.key", "-out", f"{d}/{ca}.crt",
                "-days", "3650", "-subj", f"/O=Fleet Test/CN=OpenSSL {ca} CA")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256",
            "-pass", "pass:" + PASSPHRASE, "-out", f"{d}/leaf.key")
    openssl("req", "-new", "-config", cnf, "-key", f"{d}/leaf.key", "-passin", "pass:" + PASSPHRASE,
            "-subj", "/CN=dev1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:dev1.fleet.test", "-out", f"{d}/leaf.csr")
    openssl("x509", "-req", "-in", f"{d}/leaf.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key", "-CAcreateserial",
            "-days", "30", "-extfile", cnf, "-extensions", "v3_leaf", "-out", f"{d}/leaf.crt")
    der = subprocess.run(["openssl", "x509", "-in", f"{d}/leaf.crt", "-outform", "DER"], capture_output=True,
                         check=True).stdout
    with open(f"{d}/leaf.der.b64", "w") as handle:
        handle.write(__import__("base64").b64encode(der).decode())
    with open(f"{d}/garbage.bin", "wb") as handle:
        handle.write(os.urandom(512))
    with open(f"{d}/leaf.crt") as handle:
        text = handle.read()
    with open(f"{d}/truncated.pem", "w") as handle:
        handle.write(text[: len(text) // 2])
    return dict(dir=d, collections=collections_farm(d), bare=bare_python(d))


def run_playbook(lab, *flags):
    out = os.path.join(lab["dir"], "result-%d.json" % len(os.listdir(lab["dir"])))
    playbook = os.path.join(lab["dir"], "play.yml")
    with open(playbook, "w") as handle:
        handle.write(PLAYBOOK)
    extra = dict(work=lab["dir"], out=out, passphrase=PASSPHRASE, bare=lab["bare"], venv_python=os.path.join(BIN, "python"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=lab["collections"], ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", json.dumps(extra), playbook, *flags],
                          cwd=lab["dir"], env=env, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    with open(out) as handle:
        return json.load(handle), output


def openssl_facts(path):
    text = openssl("x509", "-in", path, "-noout", "-serial", "-fingerprint", "-sha256", "-enddate", "-subject")
    return dict(re.findall(r"^([^=\n]+?)\s*=\s*(.*)$", text, re.M))


@pytest.fixture(scope="module")
def verbose_run(lab):
    return run_playbook(lab, "-vvv")


def test_certificate_facts_match_openssl(lab, verbose_run):
    results, _output = verbose_run
    leaf = results["leaf"]
    theirs = openssl_facts(os.path.join(lab["dir"], "leaf.crt"))
    assert leaf["changed"] is False and leaf["type"] == "certificate"
    assert leaf["serial"] == theirs["serial"]
    assert leaf["fingerprint_sha256"] == (theirs.get("sha256 Fingerprint") or theirs["SHA256 Fingerprint"])
    assert leaf["subject"] == "CN=dev1" and leaf["issuer"] == "CN=OpenSSL ca CA,O=Fleet Test"
    assert leaf["sans"] == ["IP:127.0.0.1", "DNS:dev1.fleet.test"]
    assert leaf["extended_key_usage"] == ["serverAuth"] and leaf["key_usage"] == ["digitalSignature"]
    assert leaf["key_type"] == "ec-p256" and leaf["is_ca"] is False
    assert leaf["days_left"] in (29, 30) and leaf["expired"] is False
    assert leaf["key_matches"] is True and leaf["private_key"]["key_type"] == "ec-p256"
    assert leaf["private_key"]["public_key_fingerprint_sha256"] == leaf["public_key_fingerprint_sha256"]
    assert leaf["chain_valid"] is True and leaf["chain_errors"] == [] and leaf["name_matches"] is True
    assert leaf["chain_method"] == "fleet.pki+cryptography.x509.verification"


def test_key_csr_and_der(verbose_run):
    results, _output = verbose_run
    assert results["key"]["type"] == "key" and results["key"]["encrypted"] is True
    assert results["key"]["public_key_fingerprint_sha256"] == results["leaf"]["public_key_fingerprint_sha256"]
    assert results["csr"]["type"] == "csr" and results["csr"]["signature_valid"] is True
    assert results["csr"]["sans"] == ["IP:127.0.0.1", "DNS:dev1.fleet.test"]
    der = results["der"]
    assert der["fingerprint_sha256"] == results["leaf"]["fingerprint_sha256"]
    assert der["expired"] is True and der["chain_valid"] is False
    # In 2099 the CA (ten years) has expired too.
    assert len(der["chain_errors"]) == 2 and der["chain_errors"][0] == f"'CN=dev1' expired on {der['not_after']}"
    assert der["chain_errors"][1].startswith("'CN=OpenSSL ca CA,O=Fleet Test' expired on ")


def test_wrong_ca_key_and_name(verbose_run):
    wrong = verbose_run[0]["wrong"]
    assert wrong["key_matches"] is False and wrong["chain_valid"] is False and wrong["name_matches"] is False
    assert wrong["chain_errors"] == [
        "'CN=dev1' is issued by 'CN=OpenSSL ca CA,O=Fleet Test', which is not the CA ('CN=OpenSSL other CA,O=Fleet Test') "
        "and not in the bundle",
        "'CN=dev1' has no SAN matching '10.9.9.9' (its SANs: IP:127.0.0.1, DNS:dev1.fleet.test)",
    ]


def test_failures_have_clear_messages(lab, verbose_run):
    results, _output = verbose_run
    garbage = results["garbage"]
    assert garbage["failed"] is True
    assert garbage["msg"] == (f"{lab['dir']}/garbage.bin is not a certificate, private key or certificate request "
                              "in PEM or DER form")
    assert results["nopass"]["failed"] is True
    assert results["nopass"]["msg"] == f"the private key in {lab['dir']}/leaf.key is encrypted; give its passphrase"
    assert results["bare"]["failed"] is True and "cryptography" in results["bare"]["msg"]
    assert "Failed to import the required Python library" in results["bare"]["msg"]


def test_filter(verbose_run):
    results, _output = verbose_run
    assert results["assert"].get("failed") is not True, results["assert"]
    assert results["f_leaf"]["fingerprint_sha256"] == results["leaf"]["fingerprint_sha256"]
    assert results["f_leaf"]["days_left"] == 30 and results["f_leaf"]["not_after"] == results["leaf"]["not_after"]
    assert results["f_chain"]["certificates"][1]["subject"] == "CN=OpenSSL ca CA,O=Fleet Test"
    bad = results["filter_bad"]
    assert bad["failed"] is True
    assert "fleet.pki.certificate_info: the input holds a truncated PEM block" in bad["msg"]


def test_verbose_output_has_no_key_or_passphrase(lab, verbose_run):
    results, output = verbose_run
    assert "127.0.0.1" in output and "fingerprint_sha256" in output  # the -vvv output really holds the results
    with open(os.path.join(lab["dir"], "other.key")) as handle:
        other_key = handle.read()
    with open(os.path.join(lab["dir"], "leaf.key")) as handle:
        leaf_key = handle.read()
    dumped = json.dumps(results)
    for text in (output, dumped):
        assert PASSPHRASE not in text
        for key in (other_key, leaf_key):
            for line in key.splitlines():
                if "-----" not in line and len(line) > 20:
                    assert line not in text


def test_check_mode_gives_the_same_facts(verbose_run, lab):
    checked, _output = run_playbook(lab, "--check")
    for name in ("leaf", "key", "wrong", "csr"):
        assert checked[name]["changed"] is False
        expected = {k: v for k, v in verbose_run[0][name].items() if k != "invocation"}
        got = {k: v for k, v in checked[name].items() if k != "invocation"}
        # days_left may roll over between the two runs; everything else is identical.
        expected.pop("days_left", None), got.pop("days_left", None)
        for facts in (expected, got):
            for cert in facts.get("certificates", []):
                cert.pop("days_left", None)
        assert got == expected
