#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Create the virtual environments of the two support lines (used by `make venv`).
#
#   PYTHON=python3 tests/tools/venv.sh [MAIN_DIR [ALT_DIR]]
#
# MAIN_DIR (default .venv)     from $PYTHON (default python3), which must be Python >= 3.11.
# ALT_DIR (default .venv-alt)  from the other support line: Python 3.12 when $PYTHON is 3.11,
#                              Python 3.11 when $PYTHON is 3.12 or newer; skipped with a
#                              message when that interpreter is not installed.
#
# Each venv gets the hash-pinned lock of its line (requirements/lock.sh writes them from
# requirements/dev.txt): requirements/dev-py3.11.lock.txt on Python 3.11 (ansible-core 2.19),
# requirements/dev-py3.12.lock.txt on 3.12 and newer (ansible-core 2.21). pip installs them with
# --require-hashes (every file must match a listed sha256, every dependency must be pinned) and
# --only-binary (no package build code runs), then removes what the lock does not list. A venv
# is (re)created when missing or built from another Python version, and the lock is
# (re)installed when the venv's stamp does not hold the sha256 of that lock.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

PYTHON=${PYTHON:-python3}
main_dir=${1:-.venv}
alt_dir=${2:-.venv-alt}
stamp_name=.fleet-requirements.stamp
min_version=3.11

fail() {
    echo "venv: ERROR: $*" >&2
    exit 1
}

# "X.Y" of an interpreter, or nothing when it does not run.
py_version() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

# version_ge X.Y A.B: true when X.Y >= A.B
version_ge() {
    [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]
}

# The lock of the support line of Python X.Y: 3.11, or 3.12 for 3.12 and newer.
lock_for() {
    if [ "$1" = 3.11 ]; then
        echo requirements/dev-py3.11.lock.txt
    else
        echo requirements/dev-py3.12.lock.txt
    fi
}

# Uninstall what the lock does not list (pip, setuptools and wheel of the venv itself stay).
remove_unlocked() {
    local dir=$1 lock=$2 unlocked
    unlocked=$("$dir/bin/python" - "$lock" <<'EOF'
import re
import sys
from importlib.metadata import distributions


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


with open(sys.argv[1], encoding="utf-8") as f:
    keep = {canonical(m.group(1)) for m in (re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line) for line in f) if m}
keep |= {"pip", "setuptools", "wheel"}
print(" ".join(sorted({canonical(d.metadata["Name"]) for d in distributions()} - keep)))
EOF
)
    if [ -n "$unlocked" ]; then
        echo "venv: removing from $dir what $lock does not list: $unlocked"
        # shellcheck disable=SC2086 # a list of distribution names
        "$dir/bin/python" -m pip uninstall --quiet --disable-pip-version-check --yes $unlocked
    fi
}

ensure_venv() {
    local dir=$1 python=$2
    local want have lock lock_sum stamp="$1/$stamp_name"
    want=$(py_version "$python")
    have=
    [ -x "$dir/bin/python" ] && have=$(py_version "$dir/bin/python")
    if [ -d "$dir" ] && [ "$have" != "$want" ]; then
        echo "venv: $dir was built for Python ${have:-(broken)}, rebuilding it for Python $want"
        rm -rf "$dir"
    fi
    if [ ! -d "$dir" ]; then
        if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
            fail "$python ($want) lacks the venv/ensurepip modules: on Debian/Ubuntu install python$want-venv (\`make deps\` does)"
        fi
        echo "venv: creating $dir with $python (Python $want)"
        "$python" -m venv "$dir"
    fi
    lock=$(lock_for "$want")
    [ -f "$lock" ] || fail "$lock is missing: run requirements/lock.sh"
    lock_sum="$(sha256sum "$lock" | cut -d ' ' -f 1)  $lock"
    if [ "$(cat "$stamp" 2>/dev/null)" = "$lock_sum" ]; then
        echo "venv: $dir is up to date (Python $want, ansible-core $("$dir/bin/python" -c 'from ansible.release import __version__; print(__version__)' 2>/dev/null || echo '?'), $lock)"
        return 0
    fi
    echo "venv: installing $lock into $dir"
    local started=$SECONDS
    rm -f "$stamp"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-hashes --only-binary :all: --requirement "$lock"
    remove_unlocked "$dir" "$lock"
    "$dir/bin/python" -m pip check --disable-pip-version-check >/dev/null ||
        fail "pip check found broken requirements in $dir (run: $dir/bin/python -m pip check)"
    echo "$lock_sum" >"$stamp"
    echo "venv: $dir ready in $((SECONDS - started))s (Python $want, ansible-core $("$dir/bin/python" -c 'from ansible.release import __version__; print(__version__)'))"
}

# Main line: $PYTHON.
# A pythonX.Y that does not run may still be installed by pyenv (see find_python.sh).
main_exe=$("$PYTHON" -c 'import sys; print(sys.executable)' 2>/dev/null) ||
    { [[ "$PYTHON" =~ ^python([0-9]+\.[0-9]+)$ ]] && main_exe=$(bash tests/tools/find_python.sh "${BASH_REMATCH[1]}"); } ||
    fail "cannot run '$PYTHON': install Python >= $min_version or set PYTHON (make venv PYTHON=python3.12)"
main_version=$(py_version "$main_exe")
version_ge "$main_version" "$min_version" ||
    fail "$PYTHON is Python $main_version; fleet.pki needs Python >= $min_version (make venv PYTHON=python3.12)"

# Other support line.
if [ "$main_version" = "3.11" ]; then
    alt_version=3.12
else
    alt_version=3.11
fi
if ! alt_exe=$(bash tests/tools/find_python.sh "$alt_version"); then
    echo "venv: skipping the other support line: python$alt_version not found"
    if [ -d "$alt_dir" ] && [ "$(py_version "$alt_dir"/bin/python)" != "$alt_version" ]; then
        echo "venv: removing the stale $alt_dir"
        rm -rf "$alt_dir"
    fi
    ensure_venv "$main_dir" "$main_exe"
    exit 0
fi

# Both lines: build them side by side (pip is mostly single-threaded), then
# show each log in turn.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
ensure_venv "$main_dir" "$main_exe" >"$logs/main" 2>&1 &
main_pid=$!
ensure_venv "$alt_dir" "$alt_exe" >"$logs/alt" 2>&1 &
alt_pid=$!
status=0
wait "$main_pid" || status=1
wait "$alt_pid" || status=1
cat "$logs/main" "$logs/alt"
exit "$status"
