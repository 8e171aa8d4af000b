#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run `ansible-test sanity --local` on a fresh copy of the collection, once per
# virtual environment given on the command line (one per support line).
#
#   tests/tools/sanity.sh .venv [.venv-alt ...] [-- extra ansible-test args]
#
# - ansible-test needs the tree at .../ansible_collections/fleet/pki and
#   resolves symlinks (P7), so the files that git would commit (tracked plus
#   untracked, not ignored) are copied into a new temporary directory.
# - The copy is not a git repository: ansible-test then walks the tree, which
#   holds exactly the copied files.
# - Offline pip bootstrap (P1): tests/tools/get_pip_offline.py is installed as
#   ~/.ansible/test/cache/get_pip_<X_Y>.py.
# - The shellcheck test passes silently when shellcheck is missing, so its
#   absence is an error here; so is any non-empty tests/sanity/ignore-*.txt.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

venvs=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        *) venvs+=("$1"); shift ;;
    esac
done
extra_args=("$@")

if [ "${#venvs[@]}" -eq 0 ]; then
    echo "usage: $0 VENV [VENV ...] [-- ANSIBLE_TEST_ARGS ...]" >&2
    exit 2
fi

fail() {
    echo "sanity: ERROR: $*" >&2
    exit 1
}

# External programs: shellcheck must be there, or its test passes silently.
command -v shellcheck >/dev/null 2>&1 ||
    fail "shellcheck not found: the shellcheck sanity test would pass without checking anything (run 'make deps')"
command -v git >/dev/null 2>&1 || fail "git not found (run 'make deps')"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    fail "$repo is not a git checkout: the files to check are taken from 'git ls-files'"

# Ignore files: both must exist, all must be empty.
for required in tests/sanity/ignore-2.19.txt tests/sanity/ignore-2.21.txt; do
    [ -f "$required" ] || fail "$required is missing (keep it, empty)"
done
for ignore in tests/sanity/ignore-*.txt; do
    if [ -s "$ignore" ]; then
        echo "sanity: $ignore:" >&2
        sed 's/^/    /' "$ignore" >&2
        fail "$ignore is not empty: fix the findings instead of ignoring them"
    fi
done

# Offline pip bootstrap for ansible-test's own virtual environments (P1).
cache_dir="$HOME/.ansible/test/cache"
mkdir -p "$cache_dir"
for pip_version in 24_2 25_2; do
    install -m 0644 tests/tools/get_pip_offline.py "$cache_dir/get_pip_${pip_version}.py"
done

# A fresh copy of the files git would commit, under ansible_collections/fleet/pki.
workdir=$(mktemp -d "${TMPDIR:-/tmp}/fleet-pki-sanity.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
copy="$workdir/ansible_collections/fleet/pki"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' path; do
        # skip tracked files deleted from the working tree
        if [ -e "$path" ] || [ -L "$path" ]; then
            printf '%s\0' "$path"
        fi
    done |
    tar --null --no-recursion --files-from=- -cf - |
    tar -xf - -C "$copy"
echo "sanity: copied $(find "$copy" -type f -o -type l | wc -l) files to $copy"

status=0
summary=()
for venv in "${venvs[@]}"; do
    venv_bin=$(cd "$venv/bin" && pwd)
    py_version=$("$venv_bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    core_version=$("$venv_bin/python" -c 'from ansible.release import __version__; print(__version__)')
    label="Python $py_version, ansible-core $core_version ($venv)"
    echo
    echo "=== sanity: $label"
    started=$SECONDS
    if (cd "$copy" && unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS && PATH="$venv_bin:$PATH" ansible-test sanity --local --python "$py_version" --color no "${extra_args[@]}"); then
        summary+=("PASS  $label  $((SECONDS - started))s")
    else
        summary+=("FAIL  $label  $((SECONDS - started))s")
        status=1
    fi
done

echo
echo "=== sanity summary"
printf '    %s\n' "${summary[@]}"
exit "$status"
