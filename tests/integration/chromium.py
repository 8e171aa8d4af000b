# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Headless Chromium as a TLS client for the tests: does it load a page, and what does it look like.

Chromium on Linux trusts what is in ``$HOME/.pki/nssdb``, so every call takes the HOME to use.
Its exit code is 0 even when the page failed to load: success is a DOM on stdout, failure the
stderr line ``... net::ERR_<REASON>``. Each run gets its own process group so that a hung browser
and its helpers (zygote, GPU, crashpad) can be stopped without touching any other process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run", "--disable-default-apps",
    "--disable-extensions",
)
DEFAULT_TIMEOUT = 60
_NET_ERROR = re.compile(r"net::ERR_[A-Z0-9_]+")


def missing_reason():
    """Why Chromium cannot be used here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is absent (apt-get install -y --no-install-recommends chromium)" % CHROMIUM
    return None


def _environment(home):
    # Only what Chromium needs: no XDG_* or proxy settings of the caller leak into the test.
    return {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANGUAGE": "C"}


def _stop_group(proc):
    """Kill the process group this module started for proc (its helpers included)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run(arguments, home, timeout, user=None):
    """Run Chromium (as user, a (uid, gid) pair, when given); return (stdout, stderr, seconds, timed_out)."""
    identity = {} if user is None else dict(user=user[0], group=user[1], extra_groups=[])
    started = time.monotonic()
    proc = subprocess.Popen([CHROMIUM, *FLAGS, *arguments], env=_environment(home), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True, **identity)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop_group(proc)
        out, err = proc.communicate()
    # Helpers that outlive the browser (crashpad) belong to the same group: end them too.
    _stop_group(proc)
    return out, err, time.monotonic() - started, timed_out


def error_line(stderr):
    """The stderr line that carries ``net::ERR_...``, or None."""
    for line in stderr.splitlines():
        if _NET_ERROR.search(line):
            return line.strip()
    return None


def load(url, home, user_data_dir, timeout=DEFAULT_TIMEOUT, user=None):
    """Load url with HOME=home; return (ok, dom, error_line).

    ok is True when Chromium printed a DOM and reported no ``net::ERR_``. ``load.last_seconds``
    holds the duration of the last call. ``user`` = (uid, gid) runs the browser as that user
    (root only); home and user_data_dir must then be that user's.
    """
    out, err, seconds, timed_out = _run(["--user-data-dir=%s" % user_data_dir, "--dump-dom", url], home, timeout, user)
    load.last_seconds = seconds
    if timed_out:
        return False, out, "timeout: chromium did not finish within %ss" % timeout
    problem = error_line(err)
    return bool(out.strip()) and problem is None, out, problem


load.last_seconds = None


def screenshot(url, home, path, timeout=DEFAULT_TIMEOUT, window_size="1280,800"):
    """Save a PNG of url (loaded with HOME=home, fresh profile) at path; return (ok, error_line)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        out, err, seconds, timed_out = _run(
            ["--user-data-dir=%s" % profile, "--screenshot=%s" % os.path.abspath(path), "--window-size=%s" % window_size,
             "--hide-scrollbars", url], home, timeout)
        screenshot.last_seconds = seconds
        if timed_out:
            return False, "timeout: chromium did not finish within %ss" % timeout
        problem = error_line(err)
        ok = problem is None and os.path.isfile(path) and os.path.getsize(path) > 0
        return ok, problem if problem or ok else "no screenshot written: %s" % err.strip()[-500:]
    finally:
        shutil.rmtree(profile, ignore_errors=True)


screenshot.last_seconds = None
