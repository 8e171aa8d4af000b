#!/usr/bin/env bash
# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Install the Debian/Ubuntu packages the tests need (used by `make deps`).
#
#   PYTHON=python3 tests/tools/deps.sh PACKAGE...
#
# Does nothing when every package is installed; otherwise runs
# `apt-get update` once and installs the missing ones (needs root).
# When $PYTHON is a distribution Python without ensurepip, its
# pythonX.Y-venv package is added, since `make venv` and ansible-test need it.
set -euo pipefail

PYTHON=${PYTHON:-python3}

packages=("$@")

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: not a Debian/Ubuntu system; make sure these (or their equivalents) are installed: ${packages[*]}"
    exit 0
fi

# A distribution Python (for example /usr/bin/python3.11) ships ensurepip separately.
py_exe=$("$PYTHON" -c 'import sys; print(sys.executable)' 2>/dev/null || true)
case "$py_exe" in
    /usr/bin/python3*)
        if ! "$py_exe" -c 'import ensurepip' >/dev/null 2>&1; then
            packages+=("python$("$py_exe" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv")
        fi
        ;;
esac

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: all present (${packages[*]})"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: ERROR: missing packages: ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
