# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a fleet's state whole? Every file complete, the index consistent, every certificate valid.

Used after concurrent runs and after killing a run: it reads every file in the PKI directory and on every
device, and says what is wrong in plain words. Nothing here trusts fleet.pki's own code: files are parsed
with `cryptography` and the index with `openssl ca` itself.
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import serialization

PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n", re.S)
# A temp file of an atomic write (".<name>.<random>.tmp"): never read, so a killed run may leave one behind.
TEMP_FILE = re.compile(r"^\..+\.tmp$")
MAY_BE_EMPTY = {".lock", "index.txt"}


class Report:
    """What a check found: problems (the state is broken) and notes (worth saying, not wrong)."""

    def __init__(self):
        self.problems, self.notes, self.files, self.leftover_temps = [], [], 0, 0

    def problem(self, text):
        self.problems.append(text)

    def __bool__(self):
        return not self.problems

    def summary(self):
        text = f"{self.files} files whole, {self.leftover_temps} leftover temp files"
        return text if self else text + "; PROBLEMS:\n- " + "\n- ".join(self.problems[:20])


def _load_pem_block(kind, block):
    if kind == "CERTIFICATE":
        return x509.load_pem_x509_certificate(block)
    if kind == "X509 CRL":
        return x509.load_pem_x509_crl(block)
    if kind == "CERTIFICATE REQUEST":
        return x509.load_pem_x509_csr(block)
    if kind.endswith("PRIVATE KEY"):
        return serialization.load_pem_private_key(block, password=None)
    raise ValueError(f"unexpected PEM block {kind}")


def _load_der(data):
    for loader in (x509.load_der_x509_certificate, x509.load_der_x509_crl,
                   lambda raw: serialization.load_der_private_key(raw, password=None)):
        try:
            return loader(data)
        except ValueError:
            continue
    raise ValueError("neither a certificate, a CRL nor a private key")


def file_problem(path):
    """Why the file at `path` is not whole, or None."""
    with open(path, "rb") as handle:
        data = handle.read()
    name = os.path.basename(path)
    if not data:
        return None if name in MAY_BE_EMPTY else "empty"
    try:
        if name.endswith((".pem", ".crt", ".key")) and data.startswith(b"-----BEGIN"):
            blocks = list(PEM_BLOCK.finditer(data))
            if not blocks or b"".join(block.group(0) for block in blocks).strip() != data.strip():
                return "not a complete sequence of PEM blocks"
            for block in blocks:
                _load_pem_block(block.group(1).decode(), block.group(0))
        elif name.endswith((".der", ".crt", ".cer")):  # ca.der.crt: DER under the name Android and Windows want
            _load_der(data)
        elif name.endswith(".mobileconfig"):
            plistlib.loads(data)
        elif name.endswith(".json"):
            json.loads(data)
        elif name == "index.txt":
            return index_problem(data)
        elif name == "crlnumber":
            if not re.fullmatch(rb"[0-9A-Fa-f]+\n", data):
                return "not a hex number and a newline"
    except ValueError as exc:  # plistlib.InvalidFileException and json errors are ValueErrors too
        return f"does not parse: {exc}"
    return None


def index_problem(data):
    serials = set()
    for number, line in enumerate(data.decode().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != 6 or fields[0] not in ("V", "R", "E") or not re.fullmatch(r"[0-9A-F]+", fields[3]):
            return f"line {number} is not an index line: {line!r}"
        if fields[3] in serials:
            return f"serial {fields[3]} is listed twice"
        serials.add(fields[3])
    return None


def check_tree(root, report):
    """Every regular file under `root` is whole; leftover temp files are counted, not read."""
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            if TEMP_FILE.match(name):
                report.leftover_temps += 1
                continue
            report.files += 1
            problem = file_problem(path)
            if problem:
                report.problem(f"{os.path.relpath(path, root)}: {problem}")


def index_entries(pki_dir):
    """{serial as an int: (status, subject)} from index.txt."""
    with open(os.path.join(pki_dir, "index.txt"), encoding="utf-8") as handle:
        return {int(fields[3], 16): (fields[0], fields[5]) for fields in (line.rstrip("\n").split("\t") for line in handle if line.strip())}


def openssl_parses_index(pki_dir):
    """`openssl ca -updatedb` on a copy of the PKI directory's index and CA: None when it parses, else why not."""
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("index.txt", "index.txt.attr"):
            if os.path.exists(os.path.join(pki_dir, name)):
                shutil.copy(os.path.join(pki_dir, name), scratch)
        config = os.path.join(scratch, "ca.cnf")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(f"[ca]\ndefault_ca = fleet\n[fleet]\ndatabase = {scratch}/index.txt\ndefault_md = sha256\n"
                         f"certificate = {pki_dir}/ca/ca.crt\nprivate_key = {pki_dir}/ca/ca.key\nunique_subject = no\n")
        result = subprocess.run(["openssl", "ca", "-config", config, "-updatedb"], capture_output=True, text=True,
                                check=False)
        return None if result.returncode == 0 else result.stdout + result.stderr


def _device_pair(directory):
    """(certificate, key) of a device directory: None for a file that is absent."""
    certificate = key = None
    for name in ("cert.pem", "fullchain.pem"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with open(path, "rb") as handle:
                certificate = x509.load_pem_x509_certificate(handle.read())
            break
    if os.path.exists(os.path.join(directory, "key.pem")):
        with open(os.path.join(directory, "key.pem"), "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    return certificate, key


def _public(thing):
    return thing.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_fleet(pki_dir, devices_dir, names, complete=True, delivery="device"):
    """Check the whole state. `complete`: every device must hold its certificate (false right after a kill).

    `devices_dir` holds one directory per device; with artefact delivery that is <pki_dir>/hosts.
    """
    report = Report()
    check_tree(pki_dir, report)
    if delivery == "device":
        check_tree(devices_dir, report)
    if report.problems:
        return report  # a broken file makes everything below meaningless
    with open(os.path.join(pki_dir, "ca", "ca.crt"), "rb") as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    with open(os.path.join(pki_dir, "ca", "ca.key"), "rb") as handle:
        if _public(serialization.load_pem_private_key(handle.read(), password=None)) != _public(ca):
            report.problem("the CA key does not match the CA certificate")
    entries = index_entries(pki_dir)
    why = openssl_parses_index(pki_dir)
    if why:
        report.problem(f"openssl ca cannot use index.txt: {why.strip()}")
    issued = []
    for name in names:
        certificate, key = _device_pair(os.path.join(devices_dir, name))
        if certificate is None:
            if complete:
                report.problem(f"{name}: no certificate")
            continue
        if key is None or _public(key) != _public(certificate):
            report.notes.append(f"{name}: key and certificate do not match (a run was killed between the two)")
            if complete:
                report.problem(f"{name}: key and certificate do not match")
        serial = format(certificate.serial_number, "X")
        status, subject = entries.get(certificate.serial_number, (None, None))
        if status != "V" or subject != f"/CN={name}":
            report.problem(f"{name}: serial {serial} is not listed valid for /CN={name} in index.txt "
                           f"(listed: {status} {subject})")
        issued.append(os.path.join(devices_dir, name, "cert.pem"))
    for start in range(0, len(issued), 200):
        batch = [path for path in issued[start:start + 200] if os.path.exists(path)]
        result = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(pki_dir, "ca", "ca.crt"), *batch],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            report.problem(f"openssl verify failed: {(result.stdout + result.stderr).strip()[:500]}")
    report.certificates = len(issued)
    return report
