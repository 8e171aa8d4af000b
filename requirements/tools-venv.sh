#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Create a venv holding the pinned tools of requirements/lock.sh and requirements/sbom.sh
# (uv, cyclonedx-bom), installed from requirements/tools.lock.txt with --require-hashes.
#
#   requirements/tools-venv.sh DIR
#
# DIR is reused as it is when its stamp holds the sha256 of the tools lock, rebuilt otherwise.
# Uses Python 3.12, or 3.11 when 3.12 is missing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

dir=${1:?usage: $0 DIR}
lock=requirements/tools.lock.txt
stamp="$dir/.fleet-tools.stamp"

fail() {
    echo "tools-venv: ERROR: $*" >&2
    exit 1
}

want=$(sha256sum "$lock" | cut -d ' ' -f 1)
if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi

python=$(bash tests/tools/find_python.sh 3.12 || bash tests/tools/find_python.sh 3.11) ||
    fail "neither python3.12 nor python3.11 found"
# Never delete a directory this script did not make.
if [ -e "$dir" ] && [ ! -f "$stamp" ] && [ -n "$(ls -A "$dir")" ]; then
    fail "$dir exists and is not a tools venv of this script: remove it or choose another directory"
fi
rm -rf "$dir"
echo "tools-venv: installing $lock into $dir"
"$python" -m venv "$dir"
# --only-binary: no package build code runs (pip would not hash-check what a source build pulls in).
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes --only-binary :all: --requirement "$lock"
echo "$want" >"$stamp"
