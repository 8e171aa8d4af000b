# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet test lab: N Debian devices as systemd-nspawn containers on a private bridge.

Each device boots an mmdebstrap rootfs (shared, read-only, with a throw-away
tmpfs overlay) in its own network namespace, attached by a veth to the bridge
``pkilab-br0`` (10.214.0.1/24). Device i is ``dev<i>`` at 10.214.0.(10+i).
The devices have no route out: the only peers are the host and each other.

Subcommands: up, down, status, readdress, inventory, rootfs (see --help and
tests/lab/README.md). Runs as root; Python standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGES_FILE = os.path.join(HERE, 'packages.txt')
STATE_DIR = os.environ.get('FLEET_PKI_LAB_STATE', '/run/fleet-pki-lab')
CACHE_DIR = os.environ.get('FLEET_PKI_LAB_CACHE', '/var/cache/fleet-pki-lab')

PREFIX = 'pkilab'
BRIDGE = PREFIX + '-br0'
NETWORK = ipaddress.ip_network('10.214.0.0/24')
HOST_ADDRESS = ipaddress.ip_address('10.214.0.1')
# Only names of exactly this shape are the lab's own (other labs may use pkilab-nsp1, pkilab-n1, ...).
NETNS_RE = re.compile(r'^%s-ns\d+$' % PREFIX)
VETH_RE = re.compile(r'^%s-v\d+$' % PREFIX)

SUITES = ('bookworm', 'trixie')
DEFAULT_SUITES = 'bookworm,trixie'
CRYPTO_PACKAGE = 'python3-cryptography'
MAX_DEVICES = 200
SSH_WAIT = 30.0
SSH_STEP = 0.2
STOP_WAIT = 10.0
LINK_WAIT = 10.0

# The mmdebstrap command; {packages}, {suite}, {target} and {mirror} are filled in.
# Part of the image hash: changing it rebuilds the images.
MMDEBSTRAP_SHAPE = ('mmdebstrap', '--variant=apt', '--include={packages}',
                    '--customize-hook=rm -f "$1/etc/hostname"', '{suite}', '{target}', '{mirror}')
SSH_OPTIONS = ('-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
               '-o', 'LogLevel=ERROR', '-o', 'ConnectionAttempts=1')


class LabError(Exception):
    """A failure with a message meant for the user."""


def log(message):
    print('lab: %s' % message, file=sys.stderr, flush=True)


def run(command, check=True, input_text=None, timeout=None):
    """Run a command and capture its output; on failure with check=True raise LabError with that output."""
    try:
        result = subprocess.run(command, check=False, text=True, input=input_text, timeout=timeout, capture_output=True,
                                stdin=None if input_text is not None else subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise LabError('%s not found: install the lab host packages (see tests/lab/README.md)' % command[0]) from exc
    if check and result.returncode != 0:
        detail = (result.stderr + result.stdout).strip()
        raise LabError('%s failed (exit %d)%s' % (' '.join(command), result.returncode, ': ' + detail if detail else ''))
    return result


# ---------------------------------------------------------------- images

def read_packages(suite, with_cryptography):
    """The sorted package list of one image, from packages.txt."""
    packages = set()
    with open(PACKAGES_FILE, encoding='utf-8') as handle:
        for line in handle:
            fields = line.split('#', 1)[0].split()
            if not fields:
                continue
            if len(fields) > 2:
                raise LabError('%s: bad line %r' % (PACKAGES_FILE, line.strip()))
            if len(fields) == 2 and suite not in fields[1].split(','):
                continue
            packages.add(fields[0])
    if CRYPTO_PACKAGE in packages:
        raise LabError('%s must not list %s: use --with-cryptography' % (PACKAGES_FILE, CRYPTO_PACKAGE))
    if with_cryptography:
        packages.add(CRYPTO_PACKAGE)
    return sorted(packages)


def image_name(suite, with_cryptography):
    packages = read_packages(suite, with_cryptography)
    digest = hashlib.sha256(json.dumps({'packages': packages, 'command': MMDEBSTRAP_SHAPE}).encode()).hexdigest()[:12]
    return '%s%s-%s' % (suite, '-crypto' if with_cryptography else '', digest)


def apt_mirror():
    """The Debian mirror this machine's apt uses (env FLEET_PKI_LAB_MIRROR overrides)."""
    if os.environ.get('FLEET_PKI_LAB_MIRROR'):
        return os.environ['FLEET_PKI_LAB_MIRROR']
    # deb822 sources: the first "deb" stanza with a plain release suite (not -security, -updates).
    for path in sorted(glob.glob('/etc/apt/sources.list.d/*.sources')):
        with open(path, encoding='utf-8') as handle:
            stanzas = handle.read().split('\n\n')
        for stanza in stanzas:
            fields = {}
            for line in stanza.splitlines():
                if ':' in line and not line.startswith((' ', '#')):
                    key, value = line.split(':', 1)
                    fields[key.strip().lower()] = value.split()
            if fields.get('enabled', ['yes'])[0].lower() == 'no':
                continue
            if 'deb' in fields.get('types', []) and fields.get('uris') and any('-' not in s for s in fields.get('suites', [])):
                return fields['uris'][0]
    # one-line sources: deb [options] URI SUITE COMPONENTS...
    for path in ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*.list')):
        if not os.path.exists(path):
            continue
        with open(path, encoding='utf-8') as handle:
            for line in handle:
                words = re.sub(r'\[[^]]*\]', ' ', line.split('#', 1)[0]).split()
                if len(words) >= 3 and words[0] == 'deb' and '-' not in words[2]:
                    return words[1]
    raise LabError('no Debian mirror found in the apt sources: set FLEET_PKI_LAB_MIRROR')


def mounts_under(path):
    """Mount points at or below path (an interrupted mmdebstrap may leave /proc or /dev mounted there)."""
    prefix = os.path.realpath(path).rstrip('/') + '/'
    found = []
    with open('/proc/self/mountinfo', encoding='utf-8') as handle:
        for line in handle:
            mount_point = line.split()[4].replace('\\040', ' ')
            if (mount_point + '/').startswith(prefix):
                found.append(mount_point)
    return found


def remove_tree(path):
    """rmtree, but never through a mount point (it could be the host's /dev)."""
    mounted = mounts_under(path)
    if mounted:
        raise LabError('not removing %s: mounts below it (%s); umount them first' % (path, ', '.join(mounted)))
    shutil.rmtree(path, ignore_errors=False)


def installed_packages(rootfs):
    installed = set()
    package = None
    with open(os.path.join(rootfs, 'var/lib/dpkg/status'), encoding='utf-8') as handle:
        for line in handle:
            if line.startswith('Package: '):
                package = line.split()[1]
            elif line.startswith('Status: ') and line.split()[-1] == 'installed':
                installed.add(package)
    return installed


@contextlib.contextmanager
def locked(path):
    """An exclusive flock on path (created), so two lab commands do not race."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a', encoding='utf-8') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_image(suite, with_cryptography):
    """Path of the cached rootfs image; built first if missing. Returns (path, built_now)."""
    if suite not in SUITES:
        raise LabError('unknown suite %r (known: %s)' % (suite, ', '.join(SUITES)))
    name = image_name(suite, with_cryptography)
    image = os.path.join(CACHE_DIR, name)
    if os.path.isdir(image):
        return image, False
    os.makedirs(CACHE_DIR, mode=0o755, exist_ok=True)
    with locked(os.path.join(CACHE_DIR, '.lock')):
        if os.path.isdir(image):  # built by another lab command meanwhile
            return image, False
        # Builds run under this lock, so any .build-* directory is left over from an interrupted one.
        for stale in glob.glob(os.path.join(CACHE_DIR, '.build-*')):
            log('removing the unfinished build %s' % stale)
            remove_tree(stale)
        # Build under a hidden name, then rename: an interrupted build never looks complete.
        building = os.path.join(CACHE_DIR, '.build-%s-%d' % (name, os.getpid()))
        build_log = os.path.join(CACHE_DIR, name + '.log')
        packages = read_packages(suite, with_cryptography)
        mirror = apt_mirror()
        values = {'packages': ','.join(packages), 'suite': suite, 'target': building, 'mirror': mirror}
        command = [part.format(**values) for part in MMDEBSTRAP_SHAPE]
        log('building the %s image %s from %s (log: %s)' % (suite, name, mirror, build_log))
        started = time.monotonic()
        try:
            returncode = run_mmdebstrap(command, build_log)
            if returncode != 0:
                with open(build_log, encoding='utf-8', errors='replace') as output:
                    tail = ''.join(output.readlines()[-25:])
                raise LabError('mmdebstrap failed (exit %d) for %s; last lines of %s:\n%s' % (returncode, name, build_log, tail))
            verify_image(building, packages, with_cryptography)
            os.rename(building, image)
        except BaseException:
            if os.path.exists(building):
                remove_tree(building)
            raise
        log('built %s in %.1f s' % (image, time.monotonic() - started))
        return image, True


def run_mmdebstrap(command, build_log):
    """Run mmdebstrap in its own process group; return its exit code.

    If this command is interrupted, mmdebstrap gets SIGTERM and time to unmount /proc, /sys and /dev
    from the half-built tree (a SIGKILL would leave them mounted there).
    """
    with open(build_log, 'w', encoding='utf-8') as output:
        with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                              start_new_session=True) as process:
            try:
                return process.wait()
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                raise


def verify_image(rootfs, packages, with_cryptography):
    installed = installed_packages(rootfs)
    missing = sorted(set(packages) - installed)
    if missing:
        raise LabError('image %s lacks %s' % (rootfs, ', '.join(missing)))
    if (CRYPTO_PACKAGE in installed) != with_cryptography:
        # The base list pulled python3-cryptography in: the "without" variant cannot exist as listed.
        raise LabError('image %s: %s is %s, expected %s' % (
            rootfs, CRYPTO_PACKAGE, 'installed' if CRYPTO_PACKAGE in installed else 'missing',
            'installed' if with_cryptography else 'missing'))
    if os.path.lexists(os.path.join(rootfs, 'etc/hostname')):
        raise LabError('image %s has an /etc/hostname, which would beat --hostname' % rootfs)


def directory_size(path):
    result = run(['du', '-sx', '--block-size=1M', path])
    return int(result.stdout.split()[0])


# ---------------------------------------------------------------- state

def state_path():
    return os.path.join(STATE_DIR, 'state.json')


def key_path():
    return os.path.join(STATE_DIR, 'id_ed25519')


def ensure_state_dir():
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    os.chmod(STATE_DIR, 0o700)  # sshd StrictModes and the private key: nobody else may write here


def load_state():
    try:
        with open(state_path(), encoding='utf-8') as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        log('ignoring the unreadable state file %s (%s)' % (state_path(), exc))
        return None


def save_state(state):
    temporary = state_path() + '.tmp'
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
        handle.write('\n')
    os.replace(temporary, state_path())


def ensure_key():
    if not os.path.exists(key_path()):
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'fleet-pki-lab', '-f', key_path()])
    return key_path()


def process_start(pid):
    """Start time of a process (clock ticks since boot), to tell our PID from a reused one."""
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8') as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if fields[0] == 'Z' else int(fields[19])


def device_process_alive(device):
    pid = device.get('pid')
    return bool(pid) and process_start(pid) == device.get('pid_start')


def reap(pid):
    """Collect the exit status if the process is our own child (during `up`), so it is not left a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# ---------------------------------------------------------------- network

def lab_links():
    """Names of the lab's links on the host: the bridge and pkilab-v<i> veths."""
    result = run(['ip', '-o', 'link', 'show'])
    names = []
    for line in result.stdout.splitlines():
        name = line.split(':', 2)[1].strip().split('@', 1)[0]
        if name == BRIDGE or VETH_RE.match(name):
            names.append(name)
    return names


def lab_netns():
    result = run(['ip', 'netns', 'list'])
    return [line.split()[0] for line in result.stdout.splitlines() if line.split() and NETNS_RE.match(line.split()[0])]


def link_exists(name):
    return run(['ip', 'link', 'show', 'dev', name], check=False).returncode == 0


def ensure_bridge():
    if not link_exists(BRIDGE):
        run(['ip', 'link', 'add', BRIDGE, 'type', 'bridge'])
    address = '%s/%d' % (HOST_ADDRESS, NETWORK.prefixlen)
    if address not in run(['ip', '-o', '-4', 'addr', 'show', 'dev', BRIDGE]).stdout:
        run(['ip', 'addr', 'add', address, 'dev', BRIDGE])
    run(['ip', 'link', 'set', BRIDGE, 'up'])


def create_device_network(device):
    netns, veth = device['netns'], device['veth']
    run(['ip', 'netns', 'add', netns])
    run(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'host0', 'netns', netns])
    run(['ip', 'link', 'set', veth, 'master', BRIDGE])
    run(['ip', 'link', 'set', veth, 'up'])
    run(['ip', '-n', netns, 'addr', 'add', '%s/%d' % (device['ip'], NETWORK.prefixlen), 'dev', 'host0'])
    run(['ip', '-n', netns, 'link', 'set', 'host0', 'up'])
    run(['ip', '-n', netns, 'link', 'set', 'lo', 'up'])


def wait_until(predicate, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


# ---------------------------------------------------------------- ssh

def ssh(address, command, input_text=None, connect_timeout=3, timeout=60):
    return run(['ssh', *SSH_OPTIONS, '-o', 'ConnectTimeout=%d' % connect_timeout, '-i', key_path(),
                'root@%s' % address, command], check=False, input_text=input_text, timeout=timeout)


def ssh_ok(address, connect_timeout=3):
    try:
        return ssh(address, 'true', connect_timeout=connect_timeout, timeout=connect_timeout + 10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def log_tail(device, lines=20):
    try:
        with open(device['log'], encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except FileNotFoundError:
        return '(no log)\n'


def wait_for_ssh(device, timeout=SSH_WAIT):
    """Poll ssh in SSH_STEP steps; fail early if the container process died."""
    deadline = time.monotonic() + timeout
    while True:
        if ssh_ok(device['ip'], connect_timeout=2):
            return
        if not device_process_alive(device):
            reap(device['pid'])
            raise LabError('%s: systemd-nspawn (PID %d) exited; last lines of %s:\n%s' % (
                device['name'], device['pid'], device['log'], log_tail(device)))
        if time.monotonic() >= deadline:
            raise LabError('%s: no ssh on %s within %.0f s; last lines of %s:\n%s' % (
                device['name'], device['ip'], timeout, device['log'], log_tail(device)))
        time.sleep(SSH_STEP)


def hosts_file(state):
    lines = ['127.0.0.1\tlocalhost', '::1\t\tlocalhost ip6-localhost ip6-loopback',
             'ff02::1\t\tip6-allnodes', 'ff02::2\t\tip6-allrouters', '%s\tlabhost' % HOST_ADDRESS]
    lines += ['%s\t%s' % (device['ip'], device['name']) for device in state['devices']]
    return '\n'.join(lines) + '\n'


def push_hosts(state):
    """Every device's /etc/hosts names all devices (lives in the throw-away overlay)."""
    content = hosts_file(state)
    for device in state['devices']:
        result = ssh(device['ip'], 'cat > /etc/hosts', input_text=content)
        if result.returncode != 0:
            raise LabError('%s: writing /etc/hosts failed: %s' % (device['name'], result.stderr.strip()))


# ---------------------------------------------------------------- up / down

def parse_index_list(text, count, option):
    if not text:
        return set()
    try:
        indexes = {int(word) for word in text.split(',') if word.strip()}
    except ValueError as exc:
        raise LabError('%s: expected device numbers like 2,4, got %r' % (option, text)) from exc
    wrong = sorted(index for index in indexes if not 1 <= index <= count)
    if wrong:
        raise LabError('%s: no device %s in a lab of %d' % (option, ', '.join(map(str, wrong)), count))
    return indexes


def plan_devices(count, suites, crypto_indexes, images):
    devices = []
    for index in range(1, count + 1):
        suite = suites[(index - 1) % len(suites)]
        with_cryptography = index in crypto_indexes
        devices.append({
            'name': 'dev%d' % index,
            'index': index,
            'suite': suite,
            'cryptography': with_cryptography,
            'image': images[(suite, with_cryptography)],
            'ip': str(NETWORK.network_address + 10 + index),
            'netns': '%s-ns%d' % (PREFIX, index),
            'veth': '%s-v%d' % (PREFIX, index),
            'machine': '%s-dev%d' % (PREFIX, index),
            'log': os.path.join(STATE_DIR, 'dev%d.log' % index),
            'pidfile': os.path.join(STATE_DIR, 'dev%d.pid' % index),
            'pid': None,
            'pid_start': None,
        })
    return devices


def boot_device(device):
    command = ['systemd-nspawn', '-q', '-D', device['image'], '--register=no', '--keep-unit', '--volatile=overlay',
               '--boot', '--hostname=%s' % device['name'], '--machine=%s' % device['machine'],
               '--network-namespace-path=/run/netns/%s' % device['netns'],
               '--bind-ro=%s.pub:/root/.ssh/authorized_keys' % key_path()]
    # A cgroup v2 tree in the container even on a hybrid-cgroup host: Debian 13's systemd deprecates v1.
    environment = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY='1')
    with open(device['log'], 'w', encoding='utf-8') as output:
        # setsid + /dev/null stdin: the container outlives this command and never holds a caller's pipe.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, env=environment,  # pylint: disable=consider-using-with
                                   stderr=subprocess.STDOUT, start_new_session=True)
    device['pid'] = process.pid
    device['pid_start'] = process_start(process.pid)
    with open(device['pidfile'], 'w', encoding='utf-8') as handle:
        handle.write('%d\n' % process.pid)


def lab_present(state):
    return bool(state) or bool(lab_netns()) or bool(lab_links())


def cmd_up(args):
    count = args.count
    if not 1 <= count <= MAX_DEVICES:
        raise LabError('up: N must be 1..%d' % MAX_DEVICES)
    suites = [suite.strip() for suite in args.suites.split(',') if suite.strip()]
    unknown = sorted(set(suites) - set(SUITES))
    if not suites or unknown:
        raise LabError('--suites: unknown suite(s) %s (known: %s)' % (', '.join(unknown) or '(none)', ', '.join(SUITES)))
    crypto_indexes = parse_index_list(args.cryptography, count, '--cryptography')
    ensure_state_dir()
    with locked(os.path.join(STATE_DIR, 'lock')):
        if lab_present(load_state()):
            log('a lab is already up (or left over): tearing it down first')
            teardown()
        for stale in glob.glob(os.path.join(STATE_DIR, 'dev*.log')) + glob.glob(os.path.join(STATE_DIR, 'dev*.pid')):
            os.unlink(stale)  # logs of an earlier lab would be mistaken for this one's
        started = time.monotonic()
        needed = {(suites[(index - 1) % len(suites)], index in crypto_indexes) for index in range(1, count + 1)}
        images = {variant: ensure_image(*variant)[0] for variant in sorted(needed)}
        ensure_key()
        state = {'version': 1, 'bridge': BRIDGE, 'key': key_path(), 'devices': []}
        save_state(state)  # from here on, `down` knows what to clean up
        booted = time.monotonic()
        try:
            ensure_bridge()
            for device in plan_devices(count, suites, crypto_indexes, images):
                state['devices'].append(device)
                save_state(state)
                create_device_network(device)
            for device in state['devices']:
                boot_device(device)
                save_state(state)
            for device in state['devices']:
                wait_for_ssh(device)
            push_hosts(state)
        except BaseException as exc:
            log('up %s: tearing the lab down' % ('failed' if isinstance(exc, Exception) else 'interrupted'))
            teardown()
            raise
    for device in state['devices']:
        print('%s\t%s\t%s%s' % (device['name'], device['suite'], device['ip'], '\tcryptography' if device['cryptography'] else ''))
    log('up: %d device(s) ready in %.1f s (boot %.1f s)' % (count, time.monotonic() - started, time.monotonic() - booted))
    return 0


HALTED_RE = re.compile(rb'Reached target (?:\x1b\[[0-9;]*m)*halt\.target')


def log_size(device):
    try:
        return os.path.getsize(device['log'])
    except OSError:
        return 0


def reached_halt(device, offset):
    """The container's console log (after offset) says systemd reached halt.target: only its exit is left."""
    try:
        with open(device['log'], 'rb') as handle:
            handle.seek(offset)
            return bool(HALTED_RE.search(handle.read()))
    except OSError:
        return False


def stop_processes(devices):
    """Orderly poweroff: SIGTERM to each recorded systemd-nspawn, which halts the container.

    A second SIGTERM makes systemd-nspawn kill the container itself and clean up; it is sent when a
    container reached halt.target but did not exit within a second (systemd 257 sometimes stays in
    that state under nspawn 252), or after STOP_WAIT. SIGKILL is the last resort.
    """
    running = [device for device in devices if device_process_alive(device)]
    offsets = {device['name']: log_size(device) for device in running}
    for device in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(device['pid'], signal.SIGTERM)
    halted_at = {}
    second_term = set()

    def still_running():
        for device in running:
            reap(device['pid'])
        return [device for device in running if device_process_alive(device)]

    def nudge(device, reason):
        log('%s: %s, sending a second SIGTERM to PID %d' % (device['name'], reason, device['pid']))
        second_term.add(device['name'])
        with contextlib.suppress(ProcessLookupError):
            os.kill(device['pid'], signal.SIGTERM)

    deadline = time.monotonic() + STOP_WAIT
    while still_running() and time.monotonic() < deadline:
        for device in still_running():
            if device['name'] in second_term or not reached_halt(device, offsets[device['name']]):
                continue
            halted_at.setdefault(device['name'], time.monotonic())
            if time.monotonic() - halted_at[device['name']] > 1.0:
                nudge(device, 'halted but still running')
        time.sleep(0.1)
    for device in still_running():
        if device['name'] not in second_term:
            nudge(device, 'no poweroff within %.0f s' % STOP_WAIT)
    if wait_until(lambda: not still_running(), 3):
        return
    for device in still_running():
        log('%s: still running, sending SIGKILL to PID %d' % (device['name'], device['pid']))
        with contextlib.suppress(ProcessLookupError):
            os.kill(device['pid'], signal.SIGKILL)
    if not wait_until(lambda: not still_running(), 5):
        raise LabError('PIDs %s survived SIGKILL' % ', '.join(str(device['pid']) for device in still_running()))


def netns_pids(netns):
    result = run(['ip', 'netns', 'pids', netns], check=False)
    return [int(word) for word in result.stdout.split() if word.isdigit()]


def teardown():
    """Stop the recorded devices, then remove the lab's netns, links and bridge (recorded or left over)."""
    state = load_state() or {}
    devices = state.get('devices', [])
    stop_processes(devices)
    netns = sorted(set(lab_netns()) | {device['netns'] for device in devices if NETNS_RE.match(device.get('netns', ''))})
    for name in netns:
        # Processes still in a lab netns belong to a container whose nspawn PID was not recorded
        # (state file lost): kill them, identified by the lab's netns, never by process name.
        leftovers = netns_pids(name) if os.path.exists('/run/netns/' + name) else []
        if leftovers:
            log('%s: killing %d left-over process(es): %s' % (name, len(leftovers), ' '.join(map(str, leftovers))))
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if leftovers and not wait_until(lambda ns=name: not netns_pids(ns), STOP_WAIT):
            raise LabError('%s: processes %s survived SIGKILL' % (name, netns_pids(name)))
        if os.path.exists('/run/netns/' + name):
            run(['ip', 'netns', 'del', name])
    # The host-side veth outlives `ip netns del` by about a second: wait, then delete stragglers.
    if not wait_until(lambda: not [link for link in lab_links() if link != BRIDGE], LINK_WAIT):
        for link in lab_links():
            if link != BRIDGE:
                run(['ip', 'link', 'del', link], check=False)
        if not wait_until(lambda: not [link for link in lab_links() if link != BRIDGE], LINK_WAIT):
            raise LabError('links still present: %s' % ', '.join(lab_links()))
    if link_exists(BRIDGE):
        run(['ip', 'link', 'del', BRIDGE])
    for device in devices:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(device['pidfile'])
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state_path())


def cmd_down(_args):
    if not os.path.isdir(STATE_DIR):
        ensure_state_dir()
    started = time.monotonic()
    with locked(os.path.join(STATE_DIR, 'lock')):
        present = lab_present(load_state())
        teardown()
    log('down: %s in %.1f s' % ('lab removed' if present else 'nothing was up', time.monotonic() - started))
    return 0


# ---------------------------------------------------------------- status / readdress / inventory

def require_state():
    state = load_state()
    if not state or not state.get('devices'):
        raise LabError('no lab is up (no state in %s): run `lab.py up N`' % STATE_DIR)
    return state


def cmd_status(_args):
    state = load_state()
    if not state or not state.get('devices'):
        print('no lab is up (state dir %s)' % STATE_DIR)
        leftovers = lab_netns() + lab_links()
        if leftovers:
            print('left over: %s (remove with `lab.py down`)' % ' '.join(leftovers))
        return 0
    row = '%-6s %-9s %-14s %-8s %-8s %-4s %s'
    print(row % ('NAME', 'SUITE', 'IP', 'PID', 'PROCESS', 'SSH', 'CRYPTOGRAPHY'))
    for device in state['devices']:
        alive = device_process_alive(device)
        reachable = alive and ssh_ok(device['ip'], connect_timeout=2)
        print(row % (device['name'], device['suite'], device['ip'], device['pid'] or '-', 'alive' if alive else 'dead',
                     'ok' if reachable else 'no', 'yes' if device['cryptography'] else 'no'))
    return 0


def cmd_readdress(args):
    try:
        new_ip = ipaddress.ip_address(args.new_ip)
    except ValueError as exc:
        raise LabError('readdress: %r is not an IP address' % args.new_ip) from exc
    if new_ip not in NETWORK or new_ip in (NETWORK.network_address, NETWORK.broadcast_address, HOST_ADDRESS):
        raise LabError('readdress: %s is not a free device address in %s' % (new_ip, NETWORK))
    with locked(os.path.join(STATE_DIR, 'lock')):
        state = require_state()
        by_name = {device['name']: device for device in state['devices']}
        if args.device not in by_name:
            raise LabError('readdress: no device %r (devices: %s)' % (args.device, ', '.join(by_name)))
        device = by_name[args.device]
        taken = {d['ip'] for d in state['devices'] if d is not device}
        if str(new_ip) in taken:
            raise LabError('readdress: %s is already used by another device' % new_ip)
        old_ip = device['ip']
        if str(new_ip) != old_ip:
            run(['ip', '-n', device['netns'], 'addr', 'del', '%s/%d' % (old_ip, NETWORK.prefixlen), 'dev', 'host0'])
            run(['ip', '-n', device['netns'], 'addr', 'add', '%s/%d' % (new_ip, NETWORK.prefixlen), 'dev', 'host0'])
            device['ip'] = str(new_ip)
            save_state(state)
        wait_for_ssh(device)
        push_hosts(state)
    log('readdress: %s %s -> %s' % (device['name'], old_ip, new_ip))
    return 0


def yaml_string(value):
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def inventory_text(state, clients):
    devices = state['devices']
    if not 0 <= clients <= len(devices):
        raise LabError('inventory: --clients must be 0..%d' % len(devices))
    common_args = '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'
    lines = ['# Written by tests/lab/lab.py inventory: the fleet test lab (state %s).' % STATE_DIR,
             'all:', '  children:']
    groups = (('devices', devices[:len(devices) - clients]), ('clients', devices[len(devices) - clients:]))
    for group, members in groups:
        lines.append('    %s:' % group)
        if not members:
            lines.append('      hosts: {}')
            continue
        lines.append('      hosts:')
        for device in members:
            lines += ['        %s:' % device['name'],
                      '          ansible_host: %s' % yaml_string(device['ip']),
                      '          ansible_user: root',
                      '          ansible_ssh_private_key_file: %s' % yaml_string(state['key']),
                      '          ansible_ssh_common_args: %s' % yaml_string(common_args),
                      '          ansible_python_interpreter: /usr/bin/python3',
                      '          lab_suite: %s' % device['suite'],
                      '          lab_cryptography: %s' % ('true' if device['cryptography'] else 'false')]
    return '\n'.join(lines) + '\n'


def cmd_inventory(args):
    text = inventory_text(require_state(), args.clients)
    if args.out in (None, '-'):
        sys.stdout.write(text)
    else:
        with open(args.out, 'w', encoding='utf-8') as handle:
            handle.write(text)
        log('inventory written to %s' % args.out)
    return 0


def cmd_rootfs(args):
    suites = [args.suite] if args.suite else list(SUITES)
    for suite in suites:
        started = time.monotonic()
        image, built = ensure_image(suite, args.with_cryptography)
        outcome = 'built in' if built else 'cached, checked in'
        print('%s\t%s\t%d MB\t%s %.1f s' % (suite, image, directory_size(image), outcome, time.monotonic() - started))
    return 0


# ---------------------------------------------------------------- main

def parser():
    main = argparse.ArgumentParser(prog='lab.py', description=__doc__.split('\n', 1)[0])
    commands = main.add_subparsers(dest='command', required=True)
    up = commands.add_parser('up', help='bring up dev1..devN (tears a running lab down first)')
    up.add_argument('count', type=int, metavar='N')
    up.add_argument('--suites', default=DEFAULT_SUITES,
                    help='comma-separated suites, assigned in turn: dev1 gets the first (default %s)' % DEFAULT_SUITES)
    up.add_argument('--cryptography', default='', metavar='I,J',
                    help='device numbers that use the image with %s (default: none)' % CRYPTO_PACKAGE)
    up.set_defaults(handler=cmd_up)
    commands.add_parser('down', help='power the devices off and remove the lab network').set_defaults(handler=cmd_down)
    commands.add_parser('status', help='show the devices').set_defaults(handler=cmd_status)
    readdress = commands.add_parser('readdress', help='give a device a new address in %s' % NETWORK)
    readdress.add_argument('device')
    readdress.add_argument('new_ip')
    readdress.set_defaults(handler=cmd_readdress)
    inventory = commands.add_parser('inventory', help='write an Ansible YAML inventory of the lab')
    inventory.add_argument('--clients', type=int, default=1, metavar='K', help='the last K devices form group clients (default 1)')
    inventory.add_argument('--out', metavar='FILE', help='output file (default: standard output)')
    inventory.set_defaults(handler=cmd_inventory)
    rootfs = commands.add_parser('rootfs', help='build (or reuse) the cached rootfs images')
    rootfs.add_argument('--suite', choices=SUITES, help='only this suite (default: all)')
    rootfs.add_argument('--with-cryptography', action='store_true', help='the variant with %s' % CRYPTO_PACKAGE)
    rootfs.set_defaults(handler=cmd_rootfs)
    return main


def raise_on_sigterm(signum, _frame):
    # Turn SIGTERM into an exception so an interrupted `up` still tears down what it made.
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parser().parse_args(argv)
    if os.geteuid() != 0:
        log('must run as root (namespaces, bridge, containers)')
        return 1
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    # ip lives in /usr/sbin, which a non-login root shell or a CI environment may lack on PATH.
    path = os.environ.get('PATH', '').split(os.pathsep)
    os.environ['PATH'] = os.pathsep.join(path + [extra for extra in ('/usr/sbin', '/sbin') if extra not in path])
    try:
        return args.handler(args)
    except LabError as exc:
        log('error: %s' % exc)
        return 1
    except KeyboardInterrupt:
        log('interrupted')
        return 130


if __name__ == '__main__':
    sys.exit(main())
