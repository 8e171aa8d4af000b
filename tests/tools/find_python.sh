#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Print the absolute path of a working Python X.Y interpreter, or exit 1.
#
#   tests/tools/find_python.sh 3.12
#
# Tries every pythonX.Y on PATH, then the versions installed by pyenv: a
# pyenv shim for pythonX.Y exists (and fails) when X.Y is installed but is
# not among the selected pyenv versions.
set -u

version=${1:?usage: $0 X.Y}

works() {
    "$1" -c 'import sys; assert "%d.%d" % sys.version_info[:2] == sys.argv[1]; print(sys.executable)' "$version" 2>/dev/null
}

candidates=()
while IFS= read -r found; do
    candidates+=("$found")
done < <(type -ap "python$version")

if command -v pyenv >/dev/null 2>&1; then
    pyenv_root=$(pyenv root 2>/dev/null) || pyenv_root=
    if [ -n "$pyenv_root" ]; then
        for found in "$pyenv_root"/versions/"$version".*/bin/"python$version"; do
            [ -x "$found" ] && candidates+=("$found")
        done
    fi
fi

for candidate in ${candidates[@]+"${candidates[@]}"}; do
    if works "$candidate"; then
        exit 0
    fi
done
exit 1
