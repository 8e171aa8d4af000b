# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""make stress: concurrency and crash safety at fleet scale, checked file by file.

Scenarios, each over the benchmark's synthetic fleet of local devices (benchmarks/bench.py):

- forks: provision N devices with many forks at once;
- two: two provisions of the same new fleet, started together, then a third that must change nothing;
- crash: kill provision (SIGKILL to the whole process tree: controller, forks, module runs writing on the
  devices) at a random moment, check that no file is torn, rerun to completion, check again; several rounds;
- crash-batch: the same with playbooks/artifacts.yml (every file committed in one batch).

After every step fleet_check.check_fleet() reads every file in the PKI directory and on every device.
`--write-docs` puts the results into docs/security.md.

    make stress                 # or: .venv/bin/python tests/stress/stress.py --n 500 --crash-n 300
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

# The synthetic fleet is the benchmark's: benchmarks/bench.py.
import bench  # noqa: E402  pylint: disable=wrong-import-position
import fleet_check  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.dirname(sys.executable)
DOC = os.path.join(REPO, "docs", "security.md")
DOC_START, DOC_END = "<!-- stress:start -->", "<!-- stress:end -->"
PROVISION = os.path.join(REPO, "playbooks", "provision.yml")
ARTIFACTS = os.path.join(REPO, "playbooks", "artifacts.yml")


class Failure(Exception):
    """A scenario found the fleet broken."""


class Run:
    """One ansible-playbook process in its own session, so that it and all its children can be killed."""

    def __init__(self, work, playbook, forks, label):
        self.log = os.path.join(work, f"{label}.log")
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORKS=str(forks), PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
        with open(self.log, "w", encoding="utf-8") as output:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [os.path.join(BIN, "ansible-playbook"), playbook, "-i", os.path.join(work, "hosts.yml")],
                cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        self.started = time.monotonic()

    def wait(self):
        """(returncode, seconds, output)."""
        returncode = self.process.wait()
        seconds = time.monotonic() - self.started
        with open(self.log, encoding="utf-8") as handle:
            return returncode, seconds, handle.read()

    def kill(self):
        """SIGKILL the playbook, its forks and the module runs they started, all at once, like a power cut.

        Ansible's forks call setsid(), so the playbook's process group is not enough: the whole tree is frozen
        with SIGSTOP (a frozen process cannot fork) until no new descendant appears, then killed.
        """
        frozen = set()
        while True:
            new = bench.descendants(self.process.pid) - frozen
            if not new:
                break
            for pid in new:
                _signal(pid, signal.SIGSTOP)
            frozen |= new
        for pid in frozen:
            _signal(pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in frozen) and time.monotonic() < deadline:
            time.sleep(0.05)


def _signal(pid, number):
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run_to_end(work, playbook, forks, label):
    returncode, seconds, output = Run(work, playbook, forks, label).wait()
    if returncode != 0:
        raise Failure(f"{label}: ansible-playbook failed ({returncode}):\n{output[-4000:]}")
    return seconds, output


def changed_hosts(output):
    return sorted(name for name, counts in bench.recap(output).items() if counts["changed"])


def check(work, names, label, complete, delivery="device"):
    devices = os.path.join(work, "devices") if delivery == "device" else os.path.join(work, "pki", "hosts")
    report = fleet_check.check_fleet(os.path.join(work, "pki"), devices, names, complete=complete,
                                     delivery=delivery)
    print(f"stress: {label}: {report.summary()}", flush=True)
    if not report:
        raise Failure(f"{label}: {report.summary()}")
    return report


def fresh_fleet(work, count, delivery="device"):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    bench.write_inventory(work, count, delivery=delivery)
    bench.reset(work, count if delivery == "device" else 0)
    return bench.host_names(count)


# --- the scenarios --------------------------------------------------------------------------------------------

def many_forks(work, count, forks, **_):
    names = fresh_fleet(work, count)
    seconds, _output = run_to_end(work, PROVISION, forks, "forks")
    report = check(work, names, "forks", complete=True)
    return {"devices": count, "forks": forks, "seconds": round(seconds, 1), "certificates": report.certificates,
            "files": report.files}


def two_at_once(work, count, forks, **_):
    names = fresh_fleet(work, count)
    runs = [Run(work, PROVISION, forks, f"two-{number}") for number in (1, 2)]
    results = [run.wait() for run in runs]
    for number, (returncode, _seconds, output) in enumerate(results, 1):
        if returncode != 0:
            raise Failure(f"two: run {number} failed ({returncode}):\n{output[-4000:]}")
    report = check(work, names, "two", complete=True)
    _seconds, output = run_to_end(work, PROVISION, forks, "two-rerun")
    changed = changed_hosts(output)
    if changed:
        raise Failure(f"two: the rerun changed {len(changed)} hosts (first: {changed[:3]})")
    issued = len(fleet_check.index_entries(os.path.join(work, "pki")))
    return {"devices": count, "forks": forks, "seconds": round(max(result[1] for result in results), 1),
            "certificates": report.certificates, "index_entries": issued, "rerun_changed": 0}


def crash_rounds(work, count, forks, rounds, rng, playbook=PROVISION, delivery="device", **_):
    """Kill a run at a random moment, check, rerun to the end, check; `rounds` times."""
    label = "crash" if playbook == PROVISION else "crash-batch"
    names = fresh_fleet(work, count, delivery)
    kills, torn_pairs, leftovers, after_reruns, full_run = [], 0, 0, 0, None
    for number in range(1, rounds + 1):
        if number > 1:  # every device needs its certificate again (the CA and index stay): work everywhere
            _wipe_devices(work, names, delivery)
        # The first round dies while the CA is made or the first certificates go out; later ones anywhere.
        at = rng.uniform(1.0, 8.0) if full_run is None else rng.uniform(0.05, 0.95) * full_run
        run = Run(work, playbook, forks, f"{label}-{number}")
        time.sleep(at)
        finished = run.process.poll() is not None
        run.kill()
        kills.append(round(at, 2))
        if not os.path.exists(os.path.join(work, "pki", "ca", "ca.crt")):
            print(f"stress: {label} round {number}: killed at {at:.2f} s, before the CA existed", flush=True)
        else:
            report = check(work, names, f"{label} round {number}, killed at {at:.2f} s"
                           + (" (it had finished)" if finished else ""), complete=False, delivery=delivery)
            torn_pairs += len(report.notes)
            leftovers += report.leftover_temps
        full_run, _output = run_to_end(work, playbook, forks, f"{label}-{number}-rerun")
        # The rerun rewrites what the kill interrupted, and each write removes its file's stale temp files.
        after_reruns += check(work, names, f"{label} round {number}, after the rerun", complete=True,
                              delivery=delivery).leftover_temps
    _seconds, output = run_to_end(work, playbook, forks, f"{label}-noop")
    changed = changed_hosts(output) if delivery == "device" else _batch_changed(output)
    if changed:
        raise Failure(f"{label}: the final rerun changed {len(changed)} hosts (first: {changed[:3]})")
    return {"devices": count, "forks": forks, "rounds": rounds, "killed_at_s": kills,
            "torn_key_certificate_pairs": torn_pairs, "leftover_temp_files": leftovers,
            "temp_files_after_reruns": after_reruns, "final_rerun_changed": 0}


def _wipe_devices(work, names, delivery):
    if delivery == "device":
        shutil.rmtree(os.path.join(work, "devices"))
        for name in names:
            os.makedirs(os.path.join(work, "devices", name))
    else:
        shutil.rmtree(os.path.join(work, "pki", "hosts"))
    os.sync()


def _batch_changed(output):
    summary = output.split("FLEET.PKI SUMMARY", 1)[-1]
    return re.findall(r"^(dev\d+)\s+(?:issued|renewed)\b", summary, re.M)


def crash_batch_rounds(work, count, forks, rounds, rng, **_):
    return crash_rounds(work, count, forks, rounds, rng, playbook=ARTIFACTS, delivery="artifacts")


SCENARIOS = {"forks": many_forks, "two": two_at_once, "crash": crash_rounds, "crash-batch": crash_batch_rounds}


# --- the report --------------------------------------------------------------------------------------------------

def markdown(results, settings):
    lines = [DOC_START, "",
             f"Measured {settings['date']} with `{settings['command']}` (seed {settings['seed']}), "
             f"{settings['machine']}.", "",
             "| Scenario | Devices | Forks | Result |", "|---|---:|---:|---|"]
    for name, result in results.items():
        if "error" in result:
            outcome = "**failed**: " + result["error"].splitlines()[0]
        elif name == "forks":
            outcome = (f"{result['certificates']} certificates, every serial unique, index parsed by `openssl ca`, "
                       f"every certificate verified; {result['seconds']} s")
        elif name == "two":
            outcome = (f"both runs succeeded; {result['certificates']} devices each hold a valid certificate listed in the "
                       f"index ({result['index_entries']} entries, serials unique); the third run changed nothing")
        else:
            outcome = (f"{result['rounds']} kills at {', '.join(f'{at} s' for at in result['killed_at_s'])}: no torn "
                       f"file; {result['torn_key_certificate_pairs']} devices caught between key and certificate, "
                       f"{result['leftover_temp_files']} temp files left by the kills, "
                       f"{result['temp_files_after_reruns']} after the reruns; every rerun converged, the last changed "
                       "nothing")
        lines.append(f"| {name} | {result.get('devices', '')} | {result.get('forks', '')} | {outcome} |")
    return "\n".join(lines + ["", DOC_END])


def write_docs(text):
    with open(DOC, encoding="utf-8") as handle:
        page = handle.read()
    start, end = page.index(DOC_START), page.index(DOC_END) + len(DOC_END)
    with open(DOC + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(page[:start] + text + page[end:])
    os.replace(DOC + ".tmp", DOC)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--n", type=int, default=500, help="devices for forks and two")
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--crash-n", type=int, default=300, help="devices for the crash scenarios")
    parser.add_argument("--crash-forks", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5, help="kills per crash scenario")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--work", default=os.path.join(REPO, ".stress"))
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument("--write-docs", action="store_true", help=f"put the results into {os.path.relpath(DOC, REPO)}")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    results = {}
    for name in args.scenarios.split(","):
        crash = name.startswith("crash")
        count, forks = (args.crash_n, args.crash_forks) if crash else (args.n, args.forks)
        print(f"stress: {name} (N={count}, forks={forks}, seed {seed})", flush=True)
        try:
            results[name] = SCENARIOS[name](os.path.join(args.work, name), count, forks, rounds=args.rounds, rng=rng)
        except Failure as exc:
            results[name] = {"devices": count, "forks": forks, "error": str(exc)}
            print(f"stress: {name} FAILED: {exc}", flush=True)
    settings = {"date": datetime.date.today().isoformat(), "seed": seed, "machine": bench.machine(),
                "command": "make stress " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"settings": settings, "results": results}, handle, indent=2)
    text = markdown(results, settings)
    print(text)
    if args.write_docs:
        write_docs(text)
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
