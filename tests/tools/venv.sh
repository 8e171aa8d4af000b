#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Create the virtual environments of the two support lines (used by `make venv`).
#
#   PYTHON=python3 tests/tools/venv.sh
#
# .venv      from $PYTHON (default python3), which must be Python >= 3.11.
# .venv-alt  from the other support line: Python 3.12 when $PYTHON is 3.11,
#            Python 3.11 when $PYTHON is 3.12 or newer; skipped with a
#            message when that interpreter is not installed.
#
# Both install requirements/dev.txt, whose environment markers pick the
# ansible-core release of the line (2.19 on 3.11, 2.21 on 3.12+). A venv is
# (re)created when missing or built from another Python version, and
# requirements are (re)installed only when requirements/dev.txt is newer
# than the venv's stamp file.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

PYTHON=${PYTHON:-python3}
requirements=requirements/dev.txt
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

ensure_venv() {
    local dir=$1 python=$2
    local want have stamp="$1/$stamp_name"
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
    if [ -f "$stamp" ] && [ "$stamp" -nt "$requirements" ]; then
        echo "venv: $dir is up to date (Python $want, ansible-core $("$dir/bin/python" -c 'from ansible.release import __version__; print(__version__)' 2>/dev/null || echo '?'))"
        return 0
    fi
    echo "venv: installing $requirements into $dir"
    local started=$SECONDS
    rm -f "$stamp"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --requirement "$requirements"
    touch "$stamp"
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
    if [ -d .venv-alt ] && [ "$(py_version .venv-alt/bin/python)" != "$alt_version" ]; then
        echo "venv: removing the stale .venv-alt"
        rm -rf .venv-alt
    fi
    ensure_venv .venv "$main_exe"
    exit 0
fi

# Both lines: build them side by side (pip is mostly single-threaded), then
# show each log in turn.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
ensure_venv .venv "$main_exe" >"$logs/main" 2>&1 &
main_pid=$!
ensure_venv .venv-alt "$alt_exe" >"$logs/alt" 2>&1 &
alt_pid=$!
status=0
wait "$main_pid" || status=1
wait "$alt_pid" || status=1
cat "$logs/main" "$logs/alt"
exit "$status"
