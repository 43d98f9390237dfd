"""What a connected, idle deskside agent costs its machine, next to a salt-minion.

Runs a real controller and agent on loopback (the helpers of tests/processes.py) at the
controller's default heartbeat and inventory intervals, and a salt-master + salt-minion from a
separate venv (bench/salt_peer.py: bench/.salt-venv, made on demand). Over one idle window it
samples both agents' memory (RSS, PSS), CPU time and TCP bytes; it also times
InventoryCollector.snapshot() in-process with about 100 processes on the machine.

    python bench/agent_footprint.py [--idle-seconds 60] [--json out.json]

A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from processes import AgentProcess, ControllerProcess, wait_for  # noqa: E402
from report import render  # noqa: E402
from salt_peer import SaltPeer, ensure_salt, tree  # noqa: E402

MIB = 2**20
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
# Let the first inventory's ack and spool writes, and salt's post-ping chatter, die down.
SETTLE_S = 5.0
SNAPSHOT_CALLS = 200
MIN_PROCESSES = 100
SLOW_REFRESH_S = 300  # InventoryCollector's default refresh of services and software
# IPv4 (20) + TCP with timestamps (32) per segment: what a link carries beyond the payload.
HEADER_BYTES = 52
# {local port: (bytes out and acked, bytes in, TCP segments both ways)}
Counters = dict[int, tuple[int, int, int]]


def memory(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) in bytes summed over pids. PSS splits shared pages between their sharers,
    so a tree of forked processes is not counted several times over as RSS is."""
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    kib = int(rest.split()[0]) * 1024
                    rss, pss = (rss + kib, pss) if key == "Rss" else (rss, pss + kib)
    return rss, pss


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime, plus reaped children's cutime+cstime so that short-lived probes count."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(f) for f in fields[11:15])  # fields 14-17 of proc(5)
    return ticks * TICK_S


def tcp_counters(pids: list[int], remote_ports: set[int]) -> Counters:
    """The kernel's byte counters of pids' established connections to remote_ports: TLS,
    HTTP/2 (or ZMTP) framing and all, as it crossed the socket; TCP/IP headers excluded."""
    local = {
        conn.laddr.port
        for pid in pids
        if psutil.pid_exists(pid)
        for conn in psutil.Process(pid).net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port in remote_ports and conn.status == "ESTABLISHED"
    }
    counters: Counters = {}
    for port in local:
        cmd = ["ss", "-tinH", "state", "established", "sport", "=", f":{port}"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        n = {k: int(v) for k, v in re.findall(r"\b(\w+):(\d+)\b", out)}
        segments = n.get("segs_out", 0) + n.get("segs_in", 0)
        counters[port] = (n.get("bytes_acked", 0), n.get("bytes_received", 0), segments)
    return counters


def ensure_ss() -> None:
    if not shutil.which("ss"):
        print("ss is missing: installing iproute2", flush=True)
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-qy", "iproute2"], capture_output=True, check=True)


def process_cpu() -> float:
    """CPU seconds of this process and its reaped children (the probes' subprocesses)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def time_snapshots() -> dict[str, float]:
    """Cold first call, one warm-up, then p50/p95 of SNAPSHOT_CALLS calls, >= 100 processes."""
    sleepers: list[subprocess.Popen[bytes]] = []
    try:
        while len(psutil.pids()) < MIN_PROCESSES:
            sleepers.append(subprocess.Popen(["sleep", "300"]))
        from agent.inventory import InventoryCollector

        collector = InventoryCollector()

        def timed() -> float:
            started = time.perf_counter()
            collector.snapshot()
            return time.perf_counter() - started

        cpu_before = process_cpu()
        cold = timed()  # runs the slow probes (dpkg, service/systemctl) and fills their caches
        cold_cpu = process_cpu() - cpu_before
        timed()  # warm-up
        timings = [timed() for _ in range(SNAPSHOT_CALLS)]
        cuts = statistics.quantiles(timings, n=100, method="inclusive")
        return {
            "processes": len(psutil.pids()),
            "sleepers_spawned": len(sleepers),
            "calls": SNAPSHOT_CALLS,
            "cold_ms": cold * 1000,
            "cold_cpu_ms": cold_cpu * 1000,
            "p50_ms": cuts[49] * 1000,
            "p95_ms": cuts[94] * 1000,
            "max_ms": max(timings) * 1000,
        }
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


def rss_floor() -> dict[str, float]:
    """RSS (MiB) of fresh interpreters that stop at each step of the agent's start-up:
    says how much of the running agent's RSS is paid before it connects."""
    steps = {
        "bare_python": "",
        "import_grpc": "import grpc",
        "agent_modules": "import agent.daemon, agent.runtime, agent.inventory",
        "after_snapshot": "import agent.daemon, agent.runtime, agent.inventory as i\n"
        "i.InventoryCollector().snapshot()",
    }
    report = "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')][0])"
    floor = {}
    for name, code in steps.items():
        cmd = [sys.executable, "-c", f"{code}\n{report}"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
        floor[name] = int(out) / 1024
    return floor


@contextlib.contextmanager
def deskside(work: Path) -> Iterator[tuple[int, int]]:
    """A controller at its default intervals and an enrolled agent that has sent inventory;
    yields the agent's pid and the controller's gRPC port."""
    controller = ControllerProcess(work / "controller", f"sqlite:///{work}/deskside.db")
    for name in ("DESKSIDE_HEARTBEAT_INTERVAL_S", "DESKSIDE_INVENTORY_INTERVAL_S"):
        controller.env.pop(name)  # the real defaults (10 s, 300 s), not the tests' fast ones
    agent = AgentProcess(work / "agent")
    agent.env["DESKSIDE_AGENT_LOG_LEVEL"] = "info"  # as deployed; the tests log at debug
    try:
        controller.start()
        with controller.client() as client:
            site = client.post("/sites", json={"name": "bench"}).json()
            endpoint_id = agent.enroll(controller, controller.enrollment_token(site_id=site["id"]))
            agent.start()
            url = f"/endpoints/{endpoint_id}/inventory"
            wait_for(lambda: client.get(url).status_code == 200, 60, "the first inventory")
        assert agent.process is not None
        yield agent.process.pid, int(controller.info["grpc"].rsplit(":", 1)[1])
    finally:
        with contextlib.suppress(Exception):
            agent.stop()
        with contextlib.suppress(Exception):
            controller.stop()


def idle_window(seconds: float, watched: dict[str, tuple[int, set[int]]]) -> dict[str, Any]:
    """Sample each watched (pid, remote ports) over one shared window: memory once a second,
    CPU time and TCP counters at both ends."""
    start = {n: (cpu_seconds(tree(p)), tcp_counters(tree(p), r)) for n, (p, r) in watched.items()}
    samples: dict[str, list[tuple[int, int]]] = {name: [] for name in watched}
    began = time.monotonic()
    while (elapsed := time.monotonic() - began) < seconds:
        for name, (pid, _) in watched.items():
            samples[name].append(memory(tree(pid)))
        time.sleep(min(1.0, max(0.0, seconds - elapsed)))
    elapsed = time.monotonic() - began
    per_min = 60 / elapsed
    figures: dict[str, Any] = {}
    for name, (pid, ports) in watched.items():
        cpu = cpu_seconds(tree(pid)) - start[name][0]
        end, before = tcp_counters(tree(pid), ports), start[name][1]
        # (out, in, segments); a connection opened during the window counts from zero.
        sent, received, segments = (
            sum(end[p][i] - before.get(p, (0, 0, 0))[i] for p in end) for i in range(3)
        )
        rss, pss = ([s[i] / MIB for s in samples[name]] for i in range(2))
        figures[name] = {
            "processes": len(tree(pid)),
            "rss_median_mib": statistics.median(rss),
            "rss_max_mib": max(rss),
            "pss_median_mib": statistics.median(pss),
            "pss_max_mib": max(pss),
            "cpu_pct": 100 * cpu / elapsed,
            "bytes_per_min": (sent + received) * per_min,
            "bytes_out_per_min": sent * per_min,
            "bytes_in_per_min": received * per_min,
            "segments_per_min": segments * per_min,
            "bytes_with_headers_per_min": (sent + received + HEADER_BYTES * segments) * per_min,
            "connections": len(end),
            "reconnected": set(end) != set(before),
        }
    return figures


def table(results: dict[str, Any]) -> str:
    agent, salt = results["agent"], results.get("salt-minion") or {}
    snap, floor = results["snapshot"], results["rss_floor"]
    # The slow probes re-run every SLOW_REFRESH_S, outside a 60 s window: their cost (at most
    # the cold call's) spread over that period is what the idle figure leaves out.
    with_probes = agent["cpu_pct"] + snap["cold_cpu_ms"] / SLOW_REFRESH_S / 10
    compared = [
        ("RSS idle, median (MiB)", "rss_median_mib", "{:.1f}", 40),
        ("RSS idle, max (MiB)", "rss_max_mib", "{:.1f}", 40),
        ("PSS idle, median (MiB)", "pss_median_mib", "{:.1f}", None),
        ("PSS idle, max (MiB)", "pss_max_mib", "{:.1f}", None),
        ("processes", "processes", "{:d}", None),
        ("CPU idle (% of one core)", "cpu_pct", "{:.3f}", 0.2),
        ("wire bytes/min, both ways", "bytes_per_min", "{:,.0f}", None),
        ("  agent -> server", "bytes_out_per_min", "{:,.0f}", None),
        ("  server -> agent", "bytes_in_per_min", "{:,.0f}", None),
        ("TCP segments/min", "segments_per_min", "{:,.0f}", None),
        ("  bytes/min with IP+TCP headers", "bytes_with_headers_per_min", "{:,.0f}", None),
    ]
    alone = [
        (f"snapshot p50 (ms, {snap['processes']} procs)", snap["p50_ms"], "{:.2f}", None),
        ("snapshot p95 (ms)", snap["p95_ms"], "{:.2f}", 25),
        ("snapshot cold first call (ms)", snap["cold_ms"], "{:.0f}", None),
        ("  its CPU, probes included (ms)", snap["cold_cpu_ms"], "{:.0f}", None),
        ("CPU idle + slow probes (est. %)", with_probes, "{:.3f}", 0.2),
        ("RSS floor: bare python (MiB)", floor["bare_python"], "{:.1f}", None),
        ("  + import grpc (MiB)", floor["import_grpc"], "{:.1f}", None),
        ("  + agent modules (MiB)", floor["agent_modules"], "{:.1f}", None),
        ("  + one snapshot (MiB)", floor["after_snapshot"], "{:.1f}", None),
    ]
    rows = [["figure", "deskside agent", "goal", "salt-minion", "salt/deskside"]]
    for label, mine, theirs, fmt, goal in [
        *((label, agent[key], salt.get(key), fmt, goal) for label, key, fmt, goal in compared),
        *((label, value, None, fmt, goal) for label, value, fmt, goal in alone),
    ]:
        verdict = f"<= {goal:g} {'ok' if mine <= goal else 'MISSED'}" if goal else ""
        ratio = f"{theirs / mine:.1f}x" if theirs is not None and mine else "-"
        other = "-" if theirs is None else fmt.format(theirs)
        rows.append([label, fmt.format(mine), verdict, other, ratio])
    return render(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the finally blocks below stop every process; SIGINT is
    # set explicitly because a shell starts background jobs with it ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ensure_ss()
    salt_error = ensure_salt()
    os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{psutil.cpu_count()} cores, {os_name}, Python {platform.python_version()}",
        "idle_seconds": args.idle_seconds,
    }
    print("timing inventory snapshots...", flush=True)
    results["snapshot"] = time_snapshots()
    results["rss_floor"] = rss_floor()
    work = Path(tempfile.mkdtemp(prefix="deskside-footprint-"))
    salt = SaltPeer(work / "salt")
    try:
        print("starting controller and agent...", flush=True)
        with deskside(work) as (agent_pid, grpc_port):
            watched = {"agent": (agent_pid, {grpc_port})}
            if salt_error is None:
                print("starting salt-master and salt-minion...", flush=True)
                try:
                    (minion,) = salt.add_minions(1)
                    watched["salt-minion"] = (salt.minions[minion].pid, salt.ports)
                except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
                    salt_error = f"salt did not come up: {exc}"
            time.sleep(SETTLE_S)
            print(f"idle window: {args.idle_seconds:g} s...", flush=True)
            results.update(idle_window(args.idle_seconds, watched))
    finally:
        salt.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["salt_error"] = salt_error
    print(f"\n{results['date']}  {results['machine']}  idle window {args.idle_seconds:g} s")
    print(table(results))
    if salt_error:
        print(f"\nsalt-minion not measured: {salt_error}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
