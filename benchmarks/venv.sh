#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The benchmark's venv (used by `make bench-venv`): Python 3.11 (the main support line) with
# benchmarks/requirements.txt, constrained by requirements/dev.txt. Rebuilt when missing, and
# reinstalled when a requirements file is newer than its stamp.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
dir=${1:-.venv-bench}
python=${PYTHON:-python3}
stamp="$dir/.fleet-bench.stamp"

if [ ! -x "$dir/bin/python" ]; then
    echo "bench-venv: creating $dir with $python"
    rm -rf "$dir"
    "$python" -m venv "$dir"
fi
if [ ! -f "$stamp" ] || [ benchmarks/requirements.txt -nt "$stamp" ] || [ requirements/dev.txt -nt "$stamp" ]; then
    echo "bench-venv: installing benchmarks/requirements.txt into $dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -c requirements/dev.txt -r benchmarks/requirements.txt
    touch "$stamp"
fi
echo "bench-venv: $dir ready ($("$dir/bin/python" -c 'import ansible.release as r, sys; print("Python %d.%d, ansible-core %s" % (sys.version_info[:2] + (r.__version__,)))'))"
