# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/lab/lab.py end to end: three systemd-nspawn devices on the private lab bridge.

Runs only as root with the lab host tools installed (see tests/lab/README.md).
Brings up dev1 (bookworm), dev2 (trixie, with python3-cryptography) and dev3
(bookworm); checks software, isolation, readdress and the inventory; then
`down` must leave no netns, link or process behind. Any lab already up is
torn down first (the lab names are global on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, 'tests', 'lab', 'lab.py')
STATE_DIR = os.environ.get('FLEET_PKI_LAB_STATE', '/run/fleet-pki-lab')
TOOLS = ('mmdebstrap', 'systemd-nspawn', 'ssh', 'ssh-keygen', 'ip')
SEARCH_PATH = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/sbin'])  # as lab.py extends it
MISSING_TOOLS = [tool for tool in TOOLS if shutil.which(tool, path=SEARCH_PATH) is None]
PYTHON_BY_SUITE = {'bookworm': '3.11.', 'trixie': '3.13.'}
NEW_IP = '10.214.0.42'
TIMINGS = {}

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason='the lab needs root (network namespaces, bridge, systemd-nspawn)'),
    pytest.mark.skipif(bool(MISSING_TOOLS), reason='lab host tools missing: %s (apt-get install -y --no-install-recommends '
                       'mmdebstrap systemd-container debootstrap uidmap openssh-client iproute2)' % ', '.join(MISSING_TOOLS)),
]

# Runs on each device (python3 there); prints one JSON object.
PROBE = r'''
import json, platform, socket, subprocess
def out(*command):
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
try:
    import cryptography
    crypto = cryptography.__version__
except ImportError:
    crypto = None
os_release = dict(line.split('=', 1) for line in open('/etc/os-release').read().split('\n') if '=' in line)
print(json.dumps({
    'hostname': socket.gethostname(),
    'system': out('systemctl', 'is-system-running'),
    'failed_units': out('systemctl', '--failed', '--no-legend', '--plain'),
    'codename': os_release.get('VERSION_CODENAME'),
    'python': platform.python_version(),
    'openssl': out('openssl', 'version'),
    'nginx_package': out('dpkg-query', '-W', '-f=${Status}', 'nginx-light'),
    'nginx_active': out('systemctl', 'is-active', 'nginx'),
    'cryptography': crypto,
    'addresses': out('ip', '-o', '-4', 'addr', 'show'),
    'links': out('ip', '-o', 'link', 'show'),
    'routes': out('ip', '-4', 'route', 'show'),
    'default_route': out('ip', 'route', 'show', 'default') + out('ip', '-6', 'route', 'show', 'default'),
}))
'''


def lab_command(*args, check=True, timeout=900):
    """Run lab.py; return (seconds, output)."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, LAB, *args], capture_output=True, text=True, check=False,
                            stdin=subprocess.DEVNULL, timeout=timeout)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError('lab.py %s failed (exit %d):\n%s' % (' '.join(args), result.returncode, output))
    return seconds, output


def load_state():
    with open(os.path.join(STATE_DIR, 'state.json'), encoding='utf-8') as handle:
        return json.load(handle)


def ssh(state, address, command, input_text=None, connect_timeout=5):
    return subprocess.run(['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
                           '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=%d' % connect_timeout, '-i', state['key'],
                           'root@' + address, command],
                          input=input_text, capture_output=True, text=True, check=False, timeout=60)


def process_alive(pid, start):
    """The recorded process is still there (not a zombie, not a reused PID)."""
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8') as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != 'Z' and int(fields[19]) == start


@pytest.fixture(scope='module')
def lab():
    """A lab of 3 devices (dev2 with python3-cryptography), always torn down afterwards."""
    try:
        for label, args in (('rootfs bookworm', ('--suite', 'bookworm')),
                            ('rootfs trixie with cryptography', ('--suite', 'trixie', '--with-cryptography'))):
            TIMINGS[label], output = lab_command('rootfs', *args)
            print(output.strip())
        TIMINGS['up 3'], output = lab_command('up', '3', '--cryptography', '2', timeout=300)
        print(output.strip())
        yield load_state()
    finally:
        seconds, output = lab_command('down', check=False, timeout=120)
        TIMINGS.setdefault('down', seconds)
        print(output.strip())
        print('lab timings: ' + ', '.join('%s %.1f s' % item for item in TIMINGS.items()))


@pytest.fixture(scope='module')
def probes(lab):
    results = {}
    for device in lab['devices']:
        result = ssh(lab, device['ip'], 'python3 -', input_text=PROBE)
        assert result.returncode == 0, '%s: probe failed: %s' % (device['name'], result.stderr)
        results[device['name']] = json.loads(result.stdout)
    return results


def test_devices_have_the_expected_system(lab, probes):
    assert [(d['name'], d['suite'], d['ip'], d['cryptography']) for d in lab['devices']] == [
        ('dev1', 'bookworm', '10.214.0.11', False), ('dev2', 'trixie', '10.214.0.12', True), ('dev3', 'bookworm', '10.214.0.13', False)]
    for device in lab['devices']:
        probe = probes[device['name']]
        print('%s: %s, systemctl is-system-running: %s%s, Python %s, %s, cryptography %s' % (
            device['name'], probe['codename'], probe['system'],
            ' (failed: %s)' % probe['failed_units'] if probe['failed_units'] else '',
            probe['python'], probe['openssl'], probe['cryptography']))
        assert probe['hostname'] == device['name']
        assert probe['codename'] == device['suite']
        assert probe['system'] in ('running', 'degraded')
        assert probe['python'].startswith(PYTHON_BY_SUITE[device['suite']])
        assert probe['openssl'].startswith('OpenSSL 3.')
        assert probe['nginx_package'] == 'install ok installed'
        assert probe['nginx_active'] == 'active'
        assert (probe['cryptography'] is not None) == device['cryptography']


def test_devices_are_isolated(lab, probes):
    for device in lab['devices']:
        probe = probes[device['name']]
        addresses = sorted(line.split()[3] for line in probe['addresses'].splitlines())
        assert addresses == sorted(['127.0.0.1/8', device['ip'] + '/24']), probe['addresses']
        links = sorted(line.split(':')[1].strip().split('@')[0] for line in probe['links'].splitlines())
        assert links == ['host0', 'lo'], probe['links']
        assert probe['default_route'] == '', 'a device must have no route out'
        assert [line.split()[0] for line in probe['routes'].splitlines()] == ['10.214.0.0/24'], probe['routes']
    dev1, dev2 = lab['devices'][0], lab['devices'][1]
    # dev1 reaches dev2 by IP (ssh port) and by the name the lab put into /etc/hosts (nginx).
    reach = ssh(lab, dev1['ip'], "python3 -c \"import socket; socket.create_connection(('%s', 22), 3).close()\"" % dev2['ip'])
    assert reach.returncode == 0, reach.stderr
    http = ssh(lab, dev1['ip'], "curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://dev2/")
    assert http.stdout == '200', http.stdout + http.stderr


def test_readdress_moves_the_device(lab):
    old_ip = lab['devices'][1]['ip']
    TIMINGS['readdress'], output = lab_command('readdress', 'dev2', NEW_IP)
    print(output.strip())
    assert load_state()['devices'][1]['ip'] == NEW_IP
    moved = ssh(lab, NEW_IP, 'hostname; ip -o -4 addr show dev host0')
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.split()[0] == 'dev2'
    assert ' %s/24 ' % NEW_IP in moved.stdout and old_ip not in moved.stdout
    gone = ssh(lab, old_ip, 'true', connect_timeout=3)
    assert gone.returncode != 0, 'the old address %s still answers' % old_ip
    hosts = ssh(lab, lab['devices'][0]['ip'], 'getent hosts dev2')
    assert hosts.stdout.split()[0] == NEW_IP, hosts.stdout


def test_inventory(lab, tmp_path):
    path = tmp_path / 'lab.yml'
    lab_command('inventory', '--out', str(path))
    with open(path, encoding='utf-8') as handle:
        inventory = yaml.safe_load(handle)
    groups = inventory['all']['children']
    assert list(groups['devices']['hosts']) == ['dev1', 'dev2']
    assert list(groups['clients']['hosts']) == ['dev3']
    dev2 = groups['devices']['hosts']['dev2']
    assert dev2['ansible_host'] == NEW_IP
    assert dev2['ansible_user'] == 'root'
    assert dev2['ansible_ssh_private_key_file'] == lab['key']
    assert 'StrictHostKeyChecking=no' in dev2['ansible_ssh_common_args']
    assert dev2['ansible_python_interpreter'] == '/usr/bin/python3'
    assert dev2['lab_suite'] == 'trixie'
    assert groups['clients']['hosts']['dev3']['lab_suite'] == 'bookworm'


def test_down_leaves_nothing_behind(lab):
    recorded = [(device['pid'], device['pid_start']) for device in load_state()['devices']]
    assert all(process_alive(pid, start) for pid, start in recorded)
    TIMINGS['down'], output = lab_command('down')
    print(output.strip())
    netns = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout
    assert 'pkilab-' not in netns
    links = subprocess.run(['ip', '-o', 'link', 'show'], capture_output=True, text=True, check=True).stdout
    assert 'pkilab-' not in links
    assert not [pid for pid, start in recorded if process_alive(pid, start)]
    assert not os.path.exists(os.path.join(STATE_DIR, 'state.json'))
    status = lab_command('status')[1]
    assert 'no lab is up' in status and 'left over' not in status
    assert lab['devices']  # the fixture's own `down` afterwards is a no-op
