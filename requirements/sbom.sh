#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Write meta/sbom.cdx.json, the CycloneDX SBOM of what fleet.pki needs at run time, or check it.
#
#   requirements/sbom.sh           regenerate meta/sbom.cdx.json (requirements/lock.sh runs this)
#   requirements/sbom.sh --check   regenerate into a temporary file; fail when it differs
#
# For each support line (Python 3.11 and 3.12) a clean venv without pip gets exactly
# requirements/runtime-pyX.Y.lock.txt (--require-hashes), and `cyclonedx-py environment` describes
# it, with fleet.pki as the root component (name, version, licence from galaxy.yml; its direct
# dependencies from meta/runtime.yml and meta/ee-requirements.txt). The two BOMs are merged: one
# component per name and version, each with a `fleet.pki:python` property per line that installs it.
# The output is reproducible (no serial number, no timestamp; sorted). Needs network access to PyPI,
# python3.11 and python3.12. tests/unit/test_supply_chain.py checks the result against the locks.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

sbom=meta/sbom.cdx.json
lines=(3.11 3.12)

check=false
case "${1:-}" in
    "") ;;
    --check) check=true ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

fail() {
    echo "sbom: ERROR: $*" >&2
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/fleet-pki-sbom.XXXXXX")
trap 'rm -rf "$work"' EXIT

# requirements/lock.sh hands over the tools venv it already has.
tools=${FLEET_TOOLS_VENV:-$work/tools}
bash requirements/tools-venv.sh "$tools"

for line in "${lines[@]}"; do
    python=$(bash tests/tools/find_python.sh "$line") || fail "python$line not found: the SBOM covers both support lines"
    venv="$work/runtime-$line"
    echo "sbom: installing requirements/runtime-py$line.lock.txt into a clean Python $line venv"
    # Without pip: the venv holds the runtime set and nothing else (the tools venv's pip installs).
    "$python" -m venv --without-pip "$venv"
    "$tools/bin/python" -m pip --python "$venv/bin/python" install --quiet --disable-pip-version-check \
        --no-input --require-hashes --only-binary :all: --requirement "requirements/runtime-py$line.lock.txt"
done

# The root component, from the collection's own metadata (PyYAML comes with the runtime venv).
"$work/runtime-${lines[-1]}/bin/python" - "$work/pyproject.toml" <<'EOF'
import json
import sys

import yaml

with open("galaxy.yml", encoding="utf-8") as f:
    galaxy = yaml.safe_load(f)
with open("meta/runtime.yml", encoding="utf-8") as f:
    requires_ansible = yaml.safe_load(f)["requires_ansible"]
with open("meta/ee-requirements.txt", encoding="utf-8") as f:
    ee = [line.split("#")[0].strip() for line in f]
dependencies = ["ansible-core" + requires_ansible] + [line for line in ee if line]
fields = {
    "name": "%s.%s" % (galaxy["namespace"], galaxy["name"]),
    "version": str(galaxy["version"]),
    "description": " ".join(galaxy["description"].split()),
    "license": " OR ".join(galaxy["license"]),
    "dependencies": dependencies,
}
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("[project]\n")
    for key, value in fields.items():
        # a JSON string or list of strings is a valid TOML value
        out.write("%s = %s\n" % (key, json.dumps(value)))
EOF

for line in "${lines[@]}"; do
    "$tools/bin/cyclonedx-py" environment --output-reproducible --mc-type library --sv 1.6 --of JSON \
        --pyproject "$work/pyproject.toml" --output-file "$work/runtime-$line.cdx.json" "$work/runtime-$line/bin/python"
done

# Merge the per-line BOMs and validate the result against the CycloneDX 1.6 schema.
"$tools/bin/python" - "$work" "${lines[@]}" <<'EOF'
import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

work, lines = sys.argv[1], sys.argv[2:]
merged = None
components = {}
dependencies = {}
for line in lines:
    with open("%s/runtime-%s.cdx.json" % (work, line), encoding="utf-8") as f:
        bom = json.load(f)
    if merged is None:
        merged = bom
    for component in bom.get("components", []):
        kept = components.setdefault(component["bom-ref"], component)
        kept.setdefault("properties", []).append({"name": "fleet.pki:python", "value": line})
    for dependency in bom.get("dependencies", []):
        kept = dependencies.setdefault(dependency["ref"], {"ref": dependency["ref"], "dependsOn": []})
        kept["dependsOn"] = sorted(set(kept["dependsOn"]) | set(dependency.get("dependsOn", [])))

merged["components"] = sorted(components.values(), key=lambda c: (c["name"].lower(), c["version"]))
merged["dependencies"] = [
    {key: value for key, value in dependencies[ref].items() if value} for ref in sorted(dependencies)
]
text = json.dumps(merged, indent=2, sort_keys=True) + "\n"
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
if error:
    sys.exit("sbom: ERROR: the merged SBOM is not valid CycloneDX 1.6: %s" % error)
with open(work + "/sbom.cdx.json", "w", encoding="utf-8") as f:
    f.write(text)
EOF

if "$check"; then
    if ! diff -u "$sbom" "$work/sbom.cdx.json"; then
        fail "$sbom is out of date: run requirements/sbom.sh (or requirements/lock.sh)"
    fi
    echo "sbom: $sbom is up to date"
else
    # same directory, then rename: the SBOM is never half-written
    cp "$work/sbom.cdx.json" "$sbom.tmp"
    mv "$sbom.tmp" "$sbom"
    echo "sbom: wrote $sbom ($(grep -c '"bom-ref"' "$sbom") bom-refs)"
fi
