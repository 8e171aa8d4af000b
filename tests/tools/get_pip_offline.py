# Copyright (c) fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test bootstraps pip in each of its virtual environments by running
``~/.ansible/test/cache/get_pip_<X_Y>.py`` and downloads that script from
Ansible's CI file host when it is missing. Without internet access the
download fails, so ``make sanity`` copies this file to those paths instead.

It takes the same arguments as get-pip.py (pip options and requirement
specifiers such as ``pip==25.2``) and runs two child processes:

1. ``python -m ensurepip --upgrade`` installs the pip wheel bundled with
   the interpreter;
2. ``python -m pip install --quiet <args>`` installs the requested pip
   version through the index configured in the pip configuration files.

Both must be child processes: ensurepip sets ``PIP_CONFIG_FILE=/dev/null``
in its own process, so a pip started from this process afterwards would
ignore the pip configuration (index and CA settings).
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that ``pip install`` does not know.
DROPPED_OPTIONS = frozenset(('--no-setuptools', '--no-wheel'))


def main(argv):
    """Bootstrap pip, then install the requested packages."""
    args = [arg for arg in argv if arg not in DROPPED_OPTIONS]
    steps = (
        [sys.executable, '-m', 'ensurepip', '--upgrade'],
        [sys.executable, '-m', 'pip', 'install', '--quiet'] + args,
    )
    for command in steps:
        result = subprocess.run(command, check=False)
        if result.returncode != 0:
            sys.stderr.write('get_pip_offline: %s failed with exit code %d\n' % (' '.join(command), result.returncode))
            return result.returncode
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
