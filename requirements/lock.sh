#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Regenerate the hash-pinned lock files from the human-edited requirement files, then the SBOM
# (requirements/sbom.sh). Needs network access to PyPI (or UV_INDEX_URL), python3.11 and python3.12.
#
#   requirements/lock.sh                        keep every locked version that still fits
#   requirements/lock.sh --upgrade              move everything to the newest allowed versions
#   requirements/lock.sh --upgrade-package X    move X (and what X needs) only
#
#   input (edit this)             lock (generated, never edited by hand)
#   requirements/dev.txt          requirements/dev-py3.11.lock.txt, requirements/dev-py3.12.lock.txt
#   requirements/runtime.txt      requirements/runtime-py3.11.lock.txt, requirements/runtime-py3.12.lock.txt
#   benchmarks/requirements.txt   requirements/bench-py3.11.lock.txt
#   requirements/tools.txt        requirements/tools.lock.txt (the uv and cyclonedx-bom used here)
#
# Each support line gets its own lock, resolved by uv for that Python on Linux; a lock names every
# transitive dependency (pip and setuptools included when something needs them) with the sha256 of
# every file of the pinned release, and `pip install --require-hashes` refuses anything else. The
# runtime and bench locks are constrained by the dev lock of their line, so one package has one
# version per line in every venv and in the SBOM. Only wheels are considered (--only-binary):
# installing never runs a package's build code.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# Extra arguments for uv pip compile (--upgrade, --upgrade-package NAME).
extra=("$@")

work=$(mktemp -d "${TMPDIR:-/tmp}/fleet-pki-lock.XXXXXX")
trap 'rm -rf "$work"' EXIT
bash requirements/tools-venv.sh "$work/tools"
uv="$work/tools/bin/uv"

# uv never downloads an interpreter here: --python-version only sets the target of the resolution.
export UV_PYTHON_DOWNLOADS=never
common=(--no-config --quiet --generate-hashes --only-binary :all:
    --custom-compile-command requirements/lock.sh ${extra[@]+"${extra[@]}"})

compile() {
    local output=$1
    shift
    echo "lock: $output"
    "$uv" pip compile "${common[@]}" "$@" --output-file "$output"
}

# The tools run on whatever Python is at hand: one lock with markers for every version.
compile requirements/tools.lock.txt --universal --python-version 3.11 requirements/tools.txt
for line in 3.11 3.12; do
    target=(--python-version "$line" --python-platform linux)
    compile "requirements/dev-py$line.lock.txt" "${target[@]}" requirements/dev.txt
    compile "requirements/runtime-py$line.lock.txt" "${target[@]}" requirements/runtime.txt \
        --constraint "requirements/dev-py$line.lock.txt"
done
# ansible 12 (the benchmark's peer) requires ansible-core 2.19: the Python 3.11 line.
compile requirements/bench-py3.11.lock.txt --python-version 3.11 --python-platform linux \
    benchmarks/requirements.txt --constraint requirements/dev-py3.11.lock.txt

FLEET_TOOLS_VENV="$work/tools" bash requirements/sbom.sh
