# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The supply chain cannot drift: the human-edited pins, the hash-pinned locks, the venv scripts,
the SBOM (meta/sbom.cdx.json) and the dependency list (docs/dependencies.md) all name the same
packages and versions."""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import PackageNotFoundError, distributions, metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements"
SBOM = REPO / "meta" / "sbom.cdx.json"
DOCS = REPO / "docs" / "dependencies.md"
LINES = ("3.11", "3.12")

# (human-edited input, its lock, the Python version the lock is resolved for)
LOCKS = [
    *[(REQUIREMENTS / "dev.txt", REQUIREMENTS / f"dev-py{line}.lock.txt", line) for line in LINES],
    *[(REQUIREMENTS / "runtime.txt", REQUIREMENTS / f"runtime-py{line}.lock.txt", line) for line in LINES],
    (REPO / "benchmarks" / "requirements.txt", REQUIREMENTS / "bench-py3.11.lock.txt", "3.11"),
    (REQUIREMENTS / "tools.txt", REQUIREMENTS / "tools.lock.txt", "3.11"),
]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})\b")


def read_lock(path):
    """{canonical name: (version, {sha256, ...})} of a lock written by requirements/lock.sh."""
    pins = {}
    name = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith(" "):  # a continuation line: the hashes of the pin above
            assert name is not None and "--hash=" in line, f"{path.name}:{number}: stray line {line!r}"
            pins[name][1].update(HASH.findall(line))
            continue
        match = PIN.match(line)
        assert match, f"{path.name}:{number}: not an exact pin: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{path.name}:{number}: {name} pinned twice"
        pins[name] = (match.group(2), set(HASH.findall(line)))
    return pins


def top_level(path, python_version):
    """{canonical name: Requirement} of a human-edited file for one Python version, following -r."""
    found = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found.update(top_level(path.parent / line[3:].strip(), python_version))
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"python_version": python_version}):
            found[canonicalize_name(requirement.name)] = requirement
    return found


def sbom_components():
    """{(canonical name, version): {support line, ...}} of the shipped SBOM."""
    bom = json.loads(SBOM.read_text(encoding="utf-8"))
    return {
        (canonicalize_name(c["name"]), c["version"]): {p["value"] for p in c.get("properties", []) if p["name"] == "fleet.pki:python"}
        for c in bom["components"]
    }


def sbom_licence(component):
    """The licence of an SBOM component as docs/dependencies.md writes it."""
    texts = []
    for entry in component.get("licenses", []):
        if "expression" in entry:
            texts.append(entry["expression"])
        else:
            licence = entry["license"]
            texts.append(licence.get("id") or licence["name"].replace("License :: OSI Approved :: ", ""))
    return " AND ".join(texts)


def docs_table(heading):
    """The rows of the first table under a '## heading' of docs/dependencies.md, as lists of cells."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)
    assert len(section) == 2, f"docs/dependencies.md has no '## {heading}' section"
    rows = []
    for line in section[1].split("\n## ", 1)[0].splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    assert rows, f"no table under '## {heading}'"
    return rows[1:]  # without the header row


@pytest.mark.parametrize("source, lock, python_version", LOCKS, ids=[lock.name for _source, lock, _python in LOCKS])
def test_lock_pins_every_package_with_hashes(source, lock, python_version):
    """Every line of a lock is name==version with sha256 hashes (what --require-hashes needs), the lock says
    how it was made, and every top-level pin of its input is locked at exactly that version."""
    pins = read_lock(lock)
    assert lock.read_text(encoding="utf-8").startswith(
        "# This file was autogenerated by uv via the following command:\n#    requirements/lock.sh\n")
    for name, (version, hashes) in pins.items():
        assert hashes, f"{lock.name}: {name}=={version} has no --hash"
    for name, requirement in top_level(source, python_version).items():
        assert name in pins, f"{lock.name} lacks {name}, which {source.name} requires"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), \
            f"{lock.name}: {name}=={pins[name][0]} does not satisfy '{requirement}' of {source.name}"


@pytest.mark.parametrize("line", LINES)
def test_runtime_lock_is_the_runtime_part_of_the_dev_lock(line):
    """The runtime set (SBOM, execution environment) is exactly what the tests run with: same versions and
    same hashes as in the dev lock of the line."""
    runtime = read_lock(REQUIREMENTS / f"runtime-py{line}.lock.txt")
    dev = read_lock(REQUIREMENTS / f"dev-py{line}.lock.txt")
    assert {"ansible-core", "cryptography", "pyyaml", "jinja2"} <= set(runtime)
    for name, pin in runtime.items():
        assert dev.get(name) == pin, f"{name}: runtime lock {pin[0]}, dev lock {dev.get(name, ('missing',))[0]}"


def test_support_lines_differ_only_where_expected():
    """Python 3.11 gets the ansible-core 2.19 floor and 3.12 the main line, and the bench venv shares every
    package it has in common with the Python 3.11 dev venv."""
    py311, py312 = (read_lock(REQUIREMENTS / f"dev-py{line}.lock.txt") for line in LINES)
    assert py311["ansible-core"][0].startswith("2.19.")
    assert py312["ansible-core"][0].startswith("2.21.")
    bench = read_lock(REQUIREMENTS / "bench-py3.11.lock.txt")
    assert "ansible" in bench and "ansible-builder" in bench
    shared = set(bench) & set(py311)
    assert {"ansible-core", "cryptography"} <= shared
    assert {name: bench[name][0] for name in shared} == {name: py311[name][0] for name in shared}


def test_venv_scripts_install_the_locks_with_hashes_only():
    """make venv and make bench-venv install a lock with --require-hashes and --only-binary, never a
    human-edited file (which does not pin transitive dependencies)."""
    for script, locks in ((REPO / "tests" / "tools" / "venv.sh", ["dev-py3.11.lock.txt", "dev-py3.12.lock.txt"]),
                          (REPO / "benchmarks" / "venv.sh", ["bench-py3.11.lock.txt"])):
        text = script.read_text(encoding="utf-8")
        commands = [line.strip() for line in text.replace("\\\n", " ").splitlines() if not line.lstrip().startswith("#")]
        installs = [command for command in commands if "pip install" in command]
        assert installs, f"{script.name} runs no pip install"
        for install in installs:
            assert "--require-hashes" in install and "--only-binary :all:" in install, f"{script.name}: {install}"
        for lock in locks:
            assert f"requirements/{lock}" in text, f"{script.name} does not use requirements/{lock}"
            assert (REQUIREMENTS / lock).is_file()
        assert "requirements/dev.txt\"" not in text and "-r requirements/dev.txt" not in text


def test_sbom_lists_exactly_the_runtime_locks():
    """meta/sbom.cdx.json (requirements/sbom.sh) names the packages and versions of the runtime locks, each
    tagged with the support lines that install it: no more, no fewer."""
    expected = {}
    for line in LINES:
        for name, (version, _hashes) in read_lock(REQUIREMENTS / f"runtime-py{line}.lock.txt").items():
            expected.setdefault((name, version), set()).add(line)
    assert sbom_components() == expected


def test_sbom_describes_the_collection():
    """The SBOM is CycloneDX 1.6, reproducible (no serial number or timestamp), with fleet.pki of galaxy.yml as
    its root, depending directly on ansible-core (every line's) and cryptography; every component has a
    licence and a PyPI package URL."""
    bom = json.loads(SBOM.read_text(encoding="utf-8"))
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    assert "serialNumber" not in bom and "timestamp" not in bom["metadata"]
    root = bom["metadata"]["component"]
    assert (root["name"], root["version"]) == (f"{galaxy['namespace']}.{galaxy['name']}", str(galaxy["version"]))
    assert sbom_licence(root) == " OR ".join(galaxy["license"])
    refs = {c["bom-ref"]: c for c in bom["components"]}
    direct = next(d["dependsOn"] for d in bom["dependencies"] if d["ref"] == root["bom-ref"])
    assert sorted(canonicalize_name(refs[ref]["name"]) for ref in direct) == ["ansible-core"] * len(LINES) + ["cryptography"]
    for component in bom["components"]:
        assert sbom_licence(component), f"{component['name']} has no licence in the SBOM"
        assert component["purl"] == f"pkg:pypi/{canonicalize_name(component['name'])}@{component['version']}"
    for dependency in bom["dependencies"]:
        assert set(dependency.get("dependsOn", [])) <= set(refs), dependency


def test_docs_runtime_table_matches_sbom():
    """docs/dependencies.md lists every runtime package with the versions of each line and the licence the
    SBOM gives, and nothing else."""
    bom = json.loads(SBOM.read_text(encoding="utf-8"))
    expected = {}
    for component in bom["components"]:
        row = expected.setdefault(canonicalize_name(component["name"]), {"licence": sbom_licence(component)})
        for prop in component["properties"]:
            row[prop["value"]] = component["version"]
    documented = {}
    for cells in docs_table("Runtime dependencies"):
        name, versions = canonicalize_name(cells[0]), dict(zip(LINES, cells[1:3]))
        documented[name] = {"licence": cells[3], **{line: v for line, v in versions.items() if v not in ("", "-")}}
    assert documented == expected


def test_docs_dev_table_matches_locks():
    """docs/dependencies.md lists the top-level development tools of requirements/dev.txt with their locked
    versions, and the benchmark's packages with theirs."""
    runtime = set(top_level(REQUIREMENTS / "runtime.txt", "3.12"))
    for heading, source, locks in (
        ("Development and test tools", REQUIREMENTS / "dev.txt", {line: f"dev-py{line}.lock.txt" for line in LINES}),
        ("Benchmark", REPO / "benchmarks" / "requirements.txt", {"3.11": "bench-py3.11.lock.txt"}),
    ):
        pins = {line: read_lock(REQUIREMENTS / lock) for line, lock in locks.items()}
        wanted = {name for name, req in top_level(source, "3.11").items() if req.specifier} - runtime
        expected = {name: sorted({pins[line][name][0] for line in pins}) for name in wanted}
        documented = {canonicalize_name(cells[0]): sorted(set(cells[1].split(" / "))) for cells in docs_table(heading)}
        assert documented == expected, heading


def test_docs_dev_licences_are_the_declared_ones():
    """The licence docs/dependencies.md gives a development tool is the SPDX expression the installed
    package declares (the running venv is the lock: see the next test)."""
    for cells in docs_table("Development and test tools"):
        try:
            declared = metadata(cells[0]).get("License-Expression")
        except PackageNotFoundError:
            pytest.fail(f"{cells[0]} is not installed in this venv: run make venv")
        assert declared, f"{cells[0]} declares no License-Expression: check its licence by hand"
        assert cells[2] == declared, cells[0]


def test_running_venv_is_its_lock():
    """The interpreter running this test was built from the dev lock of its line (make venv): every locked
    package is installed at the locked version. A stale venv fails here; `make venv` reinstalls it."""
    line = "3.11" if sys.version_info[:2] == (3, 11) else "3.12"
    pins = read_lock(REQUIREMENTS / f"dev-py{line}.lock.txt")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    wrong = {name: (version, installed.get(name)) for name, (version, _hashes) in pins.items() if installed.get(name) != version}
    assert not wrong, f"installed packages differ from dev-py{line}.lock.txt (locked, installed): {wrong}; run make venv"
