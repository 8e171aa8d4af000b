# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark harness: fleet.pki against the Ansible floor and community.crypto's own-CA pattern.

Every scenario is a whole `ansible-playbook` process over a synthetic fleet of N local devices
(`ansible_connection: local`, one directory per device), timed from start to exit, several times.
Each run is checked (exit code, recap, files) before its time counts. See benchmarks/README.md.

    make bench N=500            # or: .venv-bench/bin/python benchmarks/bench.py --n 500 --runs 3
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(REPO, "benchmarks")
BIN = os.path.dirname(sys.executable)
DOC = os.path.join(REPO, "docs", "performance.md")
DOC_START, DOC_END = "<!-- bench:start -->", "<!-- bench:end -->"
TRASH = os.path.join(REPO, ".bench.trash")  # set by main(): beside the scratch directory
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


# --- the synthetic fleet -----------------------------------------------------------------------------

def address(index):
    """A distinct private IPv4 address per device (the SAN), from 10.0.0.1 on."""
    return f"10.{index // 62500}.{index // 250 % 250}.{index % 250 + 1}"


def host_names(count):
    return [f"dev{index:05d}" for index in range(count)]


def write_inventory(work, count, delivery="device", form="yaml"):
    """The inventory of N devices (hosts.yml, or hosts.ini), and due.yml that puts every 10th one up for renewal.

    Returns the inventory's file name. INI holds the same hosts and variables; Ansible parses it about 3 times
    faster than YAML, which matters at 10,000 hosts (docs/performance.md).
    """
    devices = {name: {"ansible_host": address(index), "fleet_pki_dest": os.path.join(work, "devices", name)}
               for index, name in enumerate(host_names(count))}
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
              "fleet_pki_dir": os.path.join(work, "pki"), "fleet_pki_key_type": "ec-p256", "fleet_pki_profile": "server",
              "fleet_pki_delivery": delivery}
    # The renewal scenario: validity 366 days with renew_before 365 makes a 365-day certificate due now,
    # through the same expiry check a certificate near its end goes through.
    due = {"all": {"children": {"due": {"hosts": {name: None for name in host_names(count)[::10]},
                                        "vars": {"fleet_pki_validity_days": 366, "fleet_pki_renew_before": 365}}}}}
    with open(os.path.join(work, "due.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(due, handle, default_flow_style=False)
    for stale in ("hosts.yml", "hosts.ini"):
        if os.path.exists(os.path.join(work, stale)):
            os.unlink(os.path.join(work, stale))
    if form == "ini":
        with open(os.path.join(work, "hosts.ini"), "w", encoding="utf-8") as handle:
            handle.write("[devices]\n")
            handle.writelines(f"{name} " + " ".join(f"{key}={value}" for key, value in host.items()) + "\n"
                              for name, host in devices.items())
            handle.write("[all:vars]\n")
            handle.writelines(f"{key}={value}\n" for key, value in common.items())
        return "hosts.ini"
    inventory = {"all": {"vars": common, "children": {"devices": {"hosts": devices}}}}
    with open(os.path.join(work, "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle, default_flow_style=False)
    return "hosts.yml"


def reset(work, count, peer=False):
    """No PKI, empty device directories; for the peer, its directories on the controller (it makes none)."""
    for name in ("pki", "devices"):
        discard(os.path.join(work, name))
    for name in host_names(count):
        os.makedirs(os.path.join(work, "devices", name))
        if peer:
            os.makedirs(os.path.join(work, "pki", "hosts", name))
    if peer:
        os.makedirs(os.path.join(work, "pki", "ca"))
    os.sync()  # the previous run's writeback must not overlap the timed run that follows
    time.sleep(1)


def discard(path):
    """Move `path` into the trash, which is deleted only after the last timed run.

    Deleting a fleet right before a timed run would bill that run for the deletion. ext4 without a journal
    (this VM's root file system) will not reuse an inode freed in the last 60 to 300 seconds, and skips past
    every such inode each time it allocates one. The first burst of creations after deleting 70,000 files
    then runs 6 to 12 times slower; a controller whose ext4 has its journal (the default) never pays this.
    """
    if os.path.lexists(path):
        os.makedirs(TRASH, exist_ok=True)
        os.rename(path, os.path.join(TRASH, f"{len(os.listdir(TRASH))}-{os.path.basename(path)}"))


# --- one timed run --------------------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Peak PSS, summed over the controller's processes (ansible-playbook and its forks, not module runs)."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.peak, self._done = root, 0, threading.Event()

    def run(self):
        while not self._done.wait(0.1):
            self.peak = max(self.peak, self._pss())

    def stop(self):
        self._done.set()
        self.join()

    def _pss(self):
        # The tree, not the session: Ansible's forks call setsid(), so they leave ansible-playbook's session.
        total = 0
        for pid in descendants(self.root):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    if b"ansible-playbook" not in handle.read():
                        continue  # a module run of a local device
                with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as handle:
                    total += next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
            except (OSError, StopIteration, IndexError, ValueError):
                continue  # gone meanwhile
        return total * 1024


def descendants(root):
    """`root` and every live process below it, from the parent links in /proc."""
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(pid))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def run_playbook(work, playbook, *inventories, extra=()):
    """Run one playbook as a whole process; return (seconds, cpu seconds, peak bytes, output, tasks)."""
    timing = os.path.join(work, "timing.json")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="fleet.pki.summary,bench_timing", FLEET_BENCH_TIMING=timing,
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    command = [os.path.join(BIN, "ansible-playbook"), playbook, *extra]
    for inventory in inventories:
        command += ["-i", os.path.join(work, inventory)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    sampler = Sampler(process.pid)
    sampler.start()
    output = process.communicate()[0]
    seconds = time.monotonic() - started
    sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise SystemExit(f"bench: {os.path.relpath(playbook, REPO)} failed ({process.returncode}):\n{output[-6000:]}")
    with open(timing, encoding="utf-8") as handle:
        tasks = json.load(handle)
    return seconds, cpu, sampler.peak, output, tasks


def recap(output):
    return {match[1]: dict(ok=int(match[2]), changed=int(match[3]), unreachable=int(match[4]), failed=int(match[5]))
            for match in RECAP.finditer(output)}


def expect(condition, scenario, message):
    if not condition:
        raise SystemExit(f"bench: {scenario}: {message}")


def check_recap(scenario, output, names, changed=None):
    counts = recap(output)
    expect(set(counts) >= set(names), scenario, f"{len(set(names) - set(counts))} devices missing from the recap")
    expect(all(counts[name]["failed"] == 0 and counts[name]["unreachable"] == 0 for name in names), scenario,
           "a device failed")
    if changed is not None:
        wrong = [name for name in names if (counts[name]["changed"] > 0) != (name in changed)]
        expect(not wrong, scenario, f"{len(wrong)} devices changed when they should not, or did not when they should "
                                    f"(first: {wrong[:3]})")


def count_files(work, pattern_dir, file_name, names):
    return sum(os.path.isfile(os.path.join(work, pattern_dir, name, file_name)) for name in names)


def summary_lines(output, word):
    return len(re.findall(rf"^dev\d+\s+{word}\b", output.split("FLEET.PKI SUMMARY", 1)[-1], re.M))


# --- the scenarios -----------------------------------------------------------------------------------------

def floor_runs(work, names):
    reset(work, len(names))
    playbook = os.path.join(HERE, "playbooks", "floor.yml")
    first = run_playbook(work, playbook, "hosts.yml")
    check_recap("floor first", first[3], names, changed=set(names))
    expect(count_files(work, "devices", "floor.txt", names) == len(names), "floor first", "a file is missing")
    rerun = run_playbook(work, playbook, "hosts.yml")
    check_recap("floor rerun", rerun[3], names, changed=set())
    return {"floor_first": first, "floor_rerun": rerun}


def our_runs(work, names):
    reset(work, len(names))
    provision = os.path.join(REPO, "playbooks", "provision.yml")
    first = run_playbook(work, provision, "hosts.yml")
    check_recap("ours first", first[3], names, changed=set(names))
    expect(count_files(work, "devices", "cert.pem", names) == len(names), "ours first", "a certificate is missing")
    expect(summary_lines(first[3], "issued") == len(names), "ours first", "not every device was issued")
    noop = run_playbook(work, provision, "hosts.yml")
    check_recap("ours no-op", noop[3], names, changed=set())
    expect(summary_lines(noop[3], "kept") == len(names), "ours no-op", "not every device was kept")
    due = set(names[::10])
    renew = run_playbook(work, os.path.join(REPO, "playbooks", "renew.yml"), "hosts.yml", "due.yml")
    check_recap("ours renewal", renew[3], names, changed=due)
    expect(summary_lines(renew[3], "renewed") == len(due), "ours renewal", "not every due device was renewed")
    return {"ours_first": first, "ours_noop": noop, "ours_renew": renew}


def artifact_runs(work, names):
    reset(work, len(names))
    write_inventory(work, len(names), delivery="artifacts")
    try:
        run = run_playbook(work, os.path.join(REPO, "playbooks", "provision.yml"), "hosts.yml")
    finally:
        write_inventory(work, len(names))
    check_recap("ours artifacts", run[3], names)
    expect(count_files(work, "pki/hosts", "cert.pem", names) == len(names), "ours artifacts", "a certificate is missing")
    return {"ours_artifacts": run}


def batch_runs(work, names, count=None, form="yaml"):
    """playbooks/artifacts.yml: one task for every artefact-only device; then its no-op rerun."""
    count = count or len(names)
    work = os.path.join(work, f"batch-{form}")
    os.makedirs(work, exist_ok=True)
    names = host_names(count)
    reset(work, 0)
    inventory = write_inventory(work, count, delivery="artifacts", form=form)
    playbook = os.path.join(REPO, "playbooks", "artifacts.yml")
    first = run_playbook(work, playbook, inventory)
    expect(count_files(work, "pki/hosts", "cert.pem", names) == count, "ours batch", "a certificate is missing")
    expect(summary_lines(first[3], "issued") == count, "ours batch", "not every device was issued")
    noop = run_playbook(work, playbook, inventory)
    expect(summary_lines(noop[3], "kept") == count, "ours batch no-op", "not every device was kept")
    return {"ours_batch": first, "ours_batch_noop": noop}


def peer_runs(work, names):
    reset(work, len(names), peer=True)
    run = run_playbook(work, os.path.join(HERE, "playbooks", "peer.yml"), "hosts.yml")
    check_recap("peer", run[3], names, changed=set(names))
    expect(count_files(work, "devices", "fullchain.pem", names) == len(names), "peer", "a full chain is missing")
    return {"peer_first": run}


SUITES = {"floor": floor_runs, "ours": our_runs, "artifacts": artifact_runs, "batch": batch_runs, "peer": peer_runs}
# The peer's controller-side issuance: its three per-device community.crypto tasks.
PEER_ISSUANCE = ("Create the device key", "Create the device's CSR", "Sign the device certificate with the CA")


# --- the report ---------------------------------------------------------------------------------------------

def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(samples):
    """{scenario: [runs]} -> {scenario: {seconds, cpu, peak, tasks}} with medians and spreads."""
    result = {}
    for scenario, runs in samples.items():
        tasks = {}
        for run in runs:
            per_run = {}
            for name, seconds in run[4]:
                per_run[name] = per_run.get(name, 0.0) + seconds
            for name, seconds in per_run.items():
                tasks.setdefault(name, []).append(seconds)
        result[scenario] = {"seconds": spread([run[0] for run in runs]), "cpu": spread([run[1] for run in runs]),
                            "peak_bytes": max(run[2] for run in runs),
                            "tasks": {name: statistics.median(values) for name, values in tasks.items()}}
    if "peer_first" in result:
        issuance = [sum(seconds for name, seconds in run[4] if name in PEER_ISSUANCE) for run in samples["peer_first"]]
        result["peer_issuance"] = {"seconds": spread(issuance)}
    return result


RATIOS = (
    ("ours_first", "floor_first", "first provision / floor (first run)", "<= 1.3"),
    ("ours_noop", "floor_rerun", "no-op rerun / floor (rerun)", "<= 1.1"),
    ("peer_first", "ours_first", "peer full pattern / ours first provision", ""),
    ("peer_issuance", "ours_artifacts", "peer controller-side issuance / ours artefact-only (per device)", ""),
    ("peer_issuance", "ours_batch", "peer controller-side issuance / ours artefact-only (artifacts.yml)", ">= 10"),
)


def ratios(summary):
    found = []
    for upper, lower, label, target in RATIOS:
        if upper in summary and lower in summary:
            found.append((label, summary[upper]["seconds"]["median"] / summary[lower]["seconds"]["median"], target))
    return found


def versions():
    def package(name):
        try:
            from importlib.metadata import version
            return version(name)
        except Exception:  # pylint: disable=broad-exception-caught
            return "not installed"
    community_crypto = "not installed"
    for base in sys.path:  # the ansible package puts its collections into site-packages, which is on sys.path
        manifest = os.path.join(base, "ansible_collections", "community", "crypto", "MANIFEST.json")
        if os.path.isfile(manifest):
            with open(manifest, encoding="utf-8") as handle:
                community_crypto = json.load(handle)["collection_info"]["version"]
            break
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        ours = yaml.safe_load(handle)["version"]
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip() or "unknown"
    return {"fleet.pki": f"{ours} ({commit})", "ansible-core": package("ansible-core"), "ansible": package("ansible"),
            "community.crypto": community_crypto, "cryptography": package("cryptography"),
            "Python": platform.python_version()}


def machine():
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as handle:
        memory = int(handle.readline().split()[1]) // 1024
    pretty = platform.platform()
    if os.path.isfile("/etc/os-release"):
        with open("/etc/os-release", encoding="utf-8") as handle:
            pretty = dict(line.rstrip().split("=", 1) for line in handle if "=" in line).get("PRETTY_NAME", pretty)
    return f"{os.cpu_count()} CPUs ({model}), {memory} MiB RAM, {pretty.strip(chr(34))}, kernel {platform.release()}"


LABELS = {"floor_first": "floor: one copy per device, first run", "floor_rerun": "floor: rerun (unchanged)",
          "ours_first": "fleet.pki: first provision", "ours_noop": "fleet.pki: no-op rerun",
          "ours_renew": "fleet.pki: renewal of 10% (renew.yml)",
          "ours_artifacts": "fleet.pki: artefact-only issuance, per device (provision.yml)",
          "ours_batch": "fleet.pki: artefact-only issuance, one task (artifacts.yml)",
          "ours_batch_noop": "fleet.pki: artifacts.yml no-op rerun",
          "peer_first": "community.crypto own-CA pattern (full)",
          "peer_issuance": "community.crypto: its 3 controller-side tasks only"}


def markdown(summary, settings, command):
    lines = [f"Measured {settings['date']} with `{command}`.", "",
             f"- Machine: {machine()}", "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
             f"- N = {settings['n']} devices (`ansible_connection: local`), forks and pipelining from the shipped "
             f"`ansible.cfg`; runs per scenario: {settings['runs']} (peer: {settings['peer_runs']}"
             + (f"; N = {settings['scale_n']}: {settings['scale_runs']}" if settings["scale_n"] else "") + "); median, min–max.", "",
             "| Scenario | median s | min–max s | ms per device | CPU s (median) | controller peak MiB |",
             "|---|---:|---:|---:|---:|---:|"]
    for scenario, label in LABELS.items():
        if scenario not in summary:
            continue
        entry = summary[scenario]
        seconds = entry["seconds"]
        cpu = f"{entry['cpu']['median']:.1f}" if "cpu" in entry else ""
        peak = f"{entry['peak_bytes'] / 2**20:.0f}" if entry.get("peak_bytes") else ""
        lines.append(f"| {label} | {seconds['median']:.1f} | {seconds['min']:.1f}–{seconds['max']:.1f} | "
                     f"{1000 * seconds['median'] / settings['n']:.1f} | {cpu} | {peak} |")
    for form in ("yaml", "ini"):
        for scenario, label in ((f"scale_{form}_ours_batch", "artifacts.yml, first run"),
                                (f"scale_{form}_ours_batch_noop", "artifacts.yml, no-op")):
            if scenario in summary:
                entry = summary[scenario]
                lines.append(f"| {label} at N = {settings['scale_n']}, {form.upper()} inventory | "
                             f"{entry['seconds']['median']:.1f} | {entry['seconds']['min']:.1f}–{entry['seconds']['max']:.1f} | "
                             f"{1000 * entry['seconds']['median'] / settings['scale_n']:.2f} | {entry['cpu']['median']:.1f} | "
                             f"{entry['peak_bytes'] / 2**20:.0f} |")
    lines += ["", "| Ratio (medians) | measured | target |", "|---|---:|---:|"]
    lines += [f"| {label} | {value:.2f} | {target} |" for label, value, target in ratios(summary)]
    lines += ["", "Slowest tasks of fleet.pki's first provision (median wall s):", ""]
    tasks = sorted(summary.get("ours_first", {}).get("tasks", {}).items(), key=lambda item: -item[1])[:6]
    lines += [f"- {name}: {seconds:.1f}" for name, seconds in tasks]
    return "\n".join(lines) + "\n"


def write_doc(text):
    with open(DOC, encoding="utf-8") as handle:
        doc = handle.read()
    start, end = doc.index(DOC_START) + len(DOC_START), doc.index(DOC_END)
    temporary = DOC + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(doc[:start] + "\n" + text + doc[end:])
    os.replace(temporary, DOC)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--n", type=int, default=500, help="devices in the synthetic fleet")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario")
    parser.add_argument("--peer-runs", type=int, default=None, help="runs of the peer (default: --runs)")
    parser.add_argument("--suites", default="floor,ours,artifacts,batch,peer", help="comma-separated: " + ",".join(SUITES))
    parser.add_argument("--scale-n", type=int, default=0,
                        help="also run artifacts.yml with this many devices (the 10,000-device target)")
    parser.add_argument("--scale-runs", type=int, default=3, help="runs of each --scale-n scenario")
    parser.add_argument("--work", default=os.path.join(REPO, ".bench"), help="scratch directory (emptied)")
    parser.add_argument("--json", help="also write the summary as JSON here")
    parser.add_argument("--write-docs", action="store_true", help=f"put the results into {os.path.relpath(DOC, REPO)}")
    args = parser.parse_args(argv)
    suites = [name for name in args.suites.split(",") if name]
    unknown = set(suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites: {', '.join(sorted(unknown))}")
    peer_runs = args.runs if args.peer_runs is None else args.peer_runs

    work = os.path.abspath(args.work)
    global TRASH  # pylint: disable=global-statement
    TRASH = work + ".trash"
    discard(work)
    os.makedirs(work)
    write_inventory(work, args.n)
    names = host_names(args.n)
    samples = {}
    for index in range(max(args.runs, peer_runs)):  # interleaved, so that drift hits every scenario alike
        for suite in suites:
            if index >= (peer_runs if suite == "peer" else args.runs):
                continue
            print(f"bench: run {index + 1}, {suite} (N={args.n})", flush=True)
            for scenario, run in SUITES[suite](work, names).items():
                samples.setdefault(scenario, []).append(run)
                print(f"  {scenario}: {run[0]:.1f} s, CPU {run[1]:.1f} s, peak {run[2] / 2**20:.0f} MiB", flush=True)
    for index in range(args.scale_runs if args.scale_n else 0):
        for form in ("yaml", "ini"):
            print(f"bench: run {index + 1}, artifacts.yml at N={args.scale_n}, {form} inventory", flush=True)
            for scenario, run in batch_runs(work, [], args.scale_n, form).items():
                samples.setdefault(f"scale_{form}_{scenario}", []).append(run)
                print(f"  {scenario}: {run[0]:.1f} s, CPU {run[1]:.1f} s, peak {run[2] / 2**20:.0f} MiB", flush=True)
    summary = summarise(samples)
    settings = {"n": args.n, "runs": args.runs, "peer_runs": peer_runs, "scale_n": args.scale_n, "scale_runs": args.scale_runs,
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    command = " ".join(["benchmarks/bench.py", *(argv if argv is not None else sys.argv[1:])])
    text = markdown(summary, settings, command)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"settings": settings, "summary": summary, "versions": versions()}, handle, indent=1)
    if args.write_docs:
        write_doc(text)
    shutil.rmtree(TRASH, ignore_errors=True)  # after the last timed run (discard)
    return 0


if __name__ == "__main__":
    sys.exit(main())
