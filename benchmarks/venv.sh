#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The benchmark's venv (used by `make bench-venv`):
#
#   benchmarks/venv.sh [DIR]     (default .venv-bench)
#
# Python 3.11 (ansible 12, the peer, requires ansible-core 2.19: the Python 3.11 line) with
# requirements/bench-py3.11.lock.txt, the hash-pinned lock that requirements/lock.sh writes from
# benchmarks/requirements.txt (constrained by the dev lock of the line, so ansible-core and
# cryptography are the versions .venv has on Python 3.11). pip installs it with --require-hashes
# and --only-binary. Rebuilt when missing or built from another Python, reinstalled when the
# stamp does not hold the sha256 of the lock.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
dir=${1:-.venv-bench}
lock=requirements/bench-py3.11.lock.txt
line=3.11
stamp="$dir/.fleet-bench.stamp"

python=$(bash tests/tools/find_python.sh "$line") || {
    echo "bench-venv: ERROR: python$line not found (the benchmark runs the Python $line line)" >&2
    exit 1
}
have=
[ -x "$dir/bin/python" ] && have=$("$dir/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
if [ "$have" != "$line" ]; then
    echo "bench-venv: creating $dir with $python"
    rm -rf "$dir"
    "$python" -m venv "$dir"
fi
lock_sum="$(sha256sum "$lock" | cut -d ' ' -f 1)  $lock"
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
    echo "bench-venv: installing $lock into $dir"
    rm -f "$stamp"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-hashes --only-binary :all: --requirement "$lock"
    "$dir/bin/python" -m pip check --disable-pip-version-check >/dev/null || {
        echo "bench-venv: ERROR: pip check found broken requirements in $dir (run: $dir/bin/python -m pip check)" >&2
        exit 1
    }
    echo "$lock_sum" >"$stamp"
fi
echo "bench-venv: $dir ready ($("$dir/bin/python" -c 'import ansible.release as r, sys; print("Python %d.%d, ansible-core %s" % (sys.version_info[:2] + (r.__version__,)))'))"
