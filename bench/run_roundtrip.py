"""How long a remote action takes controller -> agent -> result, alone and fanned out, next to Salt.

Runs a real controller (SQLite in a temp dir, default settings) and real agents on loopback
(the helpers of tests/processes.py). Round trip: one agent, 50 warm-up runs, then --runs
sequential `POST /runs?wait_s=10` of file.stat (hash none) over one keep-alive HTTP
connection, each timed end to end; the run rows' timestamps say where the time went. Fan-out:
N agents tagged "bench", one `POST /runs?wait_s=60 {"tags": ["bench"]}` timed until all N
results are in, median of 5. Salt is measured in the same run the same way (bench/salt_peer.py):
LocalClient().cmd(minion, 'test.ping') sequentially, then cmd('*', 'test.ping') over N minions.

    python bench/run_roundtrip.py [--runs 1000] [--fanout 1,10,50] [--json out.json]

A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from processes import ADMIN_TOKEN, AgentProcess, ControllerProcess, wait_for  # noqa: E402
from report import render  # noqa: E402
from salt_peer import SaltPeer, ensure_salt, salt_version  # noqa: E402

WARMUP = 50
REPEATS = 5  # fan-out calls timed per N, after one untimed warm-up call
GOAL_P50_MS, GOAL_P99_MS = 5.0, 20.0
TAG = "bench"
ACTION: dict[str, Any] = {
    "action": "file.stat",
    "params": {"path": "/etc/hostname", "hash": "none"},
}
# Let the agents' first inventories (a cold snapshot each) and their acks die down.
SETTLE_S = 10.0
# What one more process costs (PEERS.md and the footprint bench), and what to leave free for
# the other engineers on this machine: a fan-out step that would not fit is skipped.
AGENT_MIB, MINION_MIB, RESERVE_MIB = 50, 130, 4096
ENROLL_WORKERS = 4  # each enrolment is two short `deskside-agent` processes; 2 cores
SALT_MINION_START_S = 4.0  # budget per new minion to be answering, before Salt is capped


def cuts(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": q[49],
        "p90": q[89],
        "p99": q[98],
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def fits(count: int, mib_each: int) -> bool:
    return psutil.virtual_memory().available / 2**20 >= count * mib_each + RESERVE_MIB


def stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def ms_between(later: str | None, earlier: str | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (stamp(later) - stamp(earlier)).total_seconds() * 1000


def cpu_ms(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return (times.user + times.system) * 1000


class Fleet:
    """A controller at its default settings and the agents enrolled into it, tagged TAG."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.controller = ControllerProcess(work / "controller", f"sqlite:///{work}/deskside.db")
        for name in ("DESKSIDE_HEARTBEAT_INTERVAL_S", "DESKSIDE_INVENTORY_INTERVAL_S"):
            self.controller.env.pop(name)  # the real defaults (10 s, 300 s), not the tests'
        self.agents: dict[str, AgentProcess] = {}  # endpoint id -> agent

    def start(self) -> httpx.Client:
        self.controller.start()
        # One keep-alive connection for every timed request; the timeout outlasts wait_s=60.
        return httpx.Client(
            base_url=self.controller.url + "/api/v1",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=120,
        )

    def _enroll(self, index: int) -> tuple[str, AgentProcess]:
        agent = AgentProcess(self.work / "agents" / f"a{index:02d}")
        agent.env["DESKSIDE_AGENT_LOG_LEVEL"] = "info"  # as deployed; the tests log at debug
        token = self.controller.enrollment_token(tags=[TAG])
        return agent.enroll(self.controller, token), agent

    def add_agents(self, count: int, client: httpx.Client) -> None:
        """Enrol and start `count` more agents; return once each has stored an inventory
        (so it is connected) and the start-up work has settled."""
        (self.work / "agents").mkdir(exist_ok=True)
        first = len(self.agents)
        with ThreadPoolExecutor(ENROLL_WORKERS) as pool:
            enrolled = list(pool.map(self._enroll, range(first, first + count)))
        for endpoint_id, agent in enrolled:
            self.agents[endpoint_id] = agent.start()
        for endpoint_id, _ in enrolled:
            url = f"/endpoints/{endpoint_id}/inventory"
            wait_for(lambda u=url: client.get(u).status_code == 200, 300, "a first inventory")
        time.sleep(SETTLE_S)

    def stop(self) -> None:
        # SIGTERM to all first, so that 50 agents stop in parallel, then reap each.
        for agent in self.agents.values():
            if agent.process is not None and agent.process.poll() is None:
                agent.process.send_signal(signal.SIGTERM)
        for agent in [*self.agents.values(), self.controller]:
            # One that does not stop was killed by stop(), which then raises: go on with the rest.
            with contextlib.suppress(AssertionError, OSError):
                agent.stop()


Row = dict[str, Any]  # one run as the API returns it


def post_runs(client: httpx.Client, target: Row, wait_s: int) -> tuple[float, list[Row]]:
    """One POST /runs, timed end to end (ms), and its run rows."""
    started = time.perf_counter()
    response = client.post("/runs", params={"wait_s": wait_s}, json={**target, **ACTION})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"POST /runs: {response.status_code} {response.text[:300]}")
    return elapsed, response.json()["items"]


def deskside_roundtrip(fleet: Fleet, client: httpx.Client, runs: int) -> dict[str, Any]:
    ((endpoint_id, agent),) = fleet.agents.items()
    assert agent.process is not None and fleet.controller.process is not None
    pids = {"controller": fleet.controller.process.pid, "agent": agent.process.pid}
    # The HTTP floor: an unauthenticated request that reads nothing but `SELECT 1`. Whatever
    # every request pays (the HTTP stack, the loopback socket) shows here.
    health = []
    for _ in range(WARMUP * 4):
        started = time.perf_counter()
        client.get("/health").raise_for_status()
        health.append((time.perf_counter() - started) * 1000)
    target = {"endpoint_id": endpoint_id}
    for _ in range(WARMUP):
        post_runs(client, target, 10)
    cpu_before = {name: cpu_ms(pid) for name, pid in pids.items()}
    timed = [post_runs(client, target, 10) for _ in range(runs)]
    cpu = {f"{n}_cpu_ms_per_run": (cpu_ms(pid) - cpu_before[n]) / runs for n, pid in pids.items()}
    rows = [items[0] for _, items in timed]
    e2e = [ms for ms, _ in timed]
    parts: dict[str, list[float]] = {"created_sent": [], "sent_started": [], "started_finished": []}
    outside = []  # the request's time outside created -> finished: see table()
    for ms, row in zip(e2e, rows, strict=True):
        stamps = [row["created_at"], row["sent_at"], row["started_at"], row["finished_at"]]
        if None in stamps:
            continue
        for key, (earlier, later) in zip(parts, itertools.pairwise(stamps), strict=True):
            parts[key].append(ms_between(later, earlier) or 0.0)
        outside.append(ms - (ms_between(stamps[3], stamps[0]) or 0.0))
    parts["outside"] = outside
    return {
        "runs": runs,
        "not_succeeded": sum(row["state"] != "succeeded" for row in rows),
        "e2e_ms": cuts(e2e),
        "health_ms": cuts(health),
        **cpu,
        "breakdown_ms": {k: cuts(v) for k, v in parts.items() if v},
        "e2e_raw_ms": e2e,
    }


def deskside_fanout(client: httpx.Client, n: int) -> dict[str, Any]:
    post_runs(client, {"tags": [TAG]}, 60)  # warm-up: not timed
    calls = [post_runs(client, {"tags": [TAG]}, 60) for _ in range(REPEATS)]
    spans = []  # first run created -> last run finished, as the controller and agents saw it
    for _, items in calls:
        created = min(stamp(i["created_at"]) for i in items)
        finished = max(stamp(i["finished_at"]) if i["finished_at"] else created for i in items)
        spans.append((finished - created).total_seconds() * 1000)
    ms = [c[0] for c in calls]
    return {
        "n": n,
        "median_ms": statistics.median(ms),
        "all_ms": ms,
        "server_span_median_ms": statistics.median(spans),
        "fewest_succeeded": min(sum(i["state"] == "succeeded" for i in it) for _, it in calls),
    }


def measure_deskside(work: Path, runs: int, fanout: list[int]) -> dict[str, Any]:
    fleet = Fleet(work)
    result: dict[str, Any] = {"fanout": [], "capped": None}
    try:
        print("starting controller and one agent...", flush=True)
        with fleet.start() as client:
            fleet.add_agents(1, client)
            print(f"deskside round trip: {WARMUP} warm-up + {runs} runs...", flush=True)
            result["roundtrip"] = deskside_roundtrip(fleet, client, runs)
            for n in fanout:
                more = n - len(fleet.agents)
                if not fits(more, AGENT_MIB):
                    result["capped"] = f"not enough free memory for {n} agents"
                    break
                print(f"deskside fan-out to {n} agent(s)...", flush=True)
                if more > 0:
                    fleet.add_agents(more, client)
                result["fanout"].append(deskside_fanout(client, n))
    finally:
        fleet.stop()
    return result


def measure_salt(work: Path, runs: int, fanout: list[int], most: int) -> dict[str, Any]:
    result: dict[str, Any] = {"fanout": [], "capped": None, "version": salt_version()}
    with SaltPeer(work) as salt:
        print("starting salt-master and one salt-minion...", flush=True)
        (minion,) = salt.add_minions(1)
        print(f"salt round trip: {WARMUP} warm-up + {runs} test.ping...", flush=True)
        ms, answered = salt.time_ping(minion, WARMUP + runs)
        result["roundtrip"] = {"calls": runs, "fewest_answered": answered}
        result["roundtrip"]["e2e_ms"] = cuts(ms[WARMUP:])
        for n in fanout:
            more = n - len(salt.minions)
            if n > most:
                result["capped"] = f"capped at {most} minions (--salt-max-minions)"
                break
            if not fits(more, MINION_MIB):
                result["capped"] = f"not enough free memory for {n} minions"
                break
            print(f"salt fan-out to {n} minion(s)...", flush=True)
            if more > 0:
                began = time.monotonic()
                try:
                    salt.add_minions(more, deadline_s=60 + SALT_MINION_START_S * more)
                except RuntimeError as exc:
                    result["capped"] = f"{n} minions did not all answer: {exc}"
                    break
                result.setdefault("start_s", {})[n] = time.monotonic() - began
            ms, answered = salt.time_ping("*", 1 + REPEATS, timeout_s=60)
            ms = ms[1:]  # the first call is the warm-up, as for deskside
            result["fanout"].append(
                {"n": n, "median_ms": statistics.median(ms), "all_ms": ms, "fewest": answered}
            )
    return result


def table(results: dict[str, Any]) -> str:
    """The printed table. The breakdown rows come from the run rows: created_at and sent_at are
    the controller's clock (µs), started_at and finished_at the agent's (whole ms, truncated,
    same machine), hence the means beside the p50s. "Rest of the request" is the end-to-end
    time outside created -> finished: HTTP, authentication and validation before the run row
    is written, and after the agent's result: its spool, the stream, the controller storing
    the update, waking the request, reading the rows back and answering."""
    mine, salt = results["deskside"], results.get("salt") or {}
    trip = mine["roundtrip"]
    salt_rt = (salt.get("roundtrip") or {}).get("e2e_ms", {})
    goals = {"p50": GOAL_P50_MS, "p99": GOAL_P99_MS}
    rows = [["figure", "deskside", "goal", "salt", "salt/deskside"]]

    def row(label: str, value: float, goal: float | None, theirs: float | None, fmt: str) -> None:
        verdict = f"<= {goal:g} {'ok' if value <= goal else 'MISSED'}" if goal else ""
        ratio = f"{theirs / value:.1f}x" if theirs is not None and value else "-"
        other = "-" if theirs is None else fmt.format(theirs)
        rows.append([label, fmt.format(value), verdict, other, ratio])

    def note(label: str, value: str) -> None:
        rows.append([label, value, "", "-", "-"])

    for key in ("p50", "p90", "p99", "max"):
        label = f"round trip {key} (ms, {trip['runs']} runs)"
        row(label, trip["e2e_ms"][key], goals.get(key), salt_rt.get(key), "{:.2f}")
    note("  runs not succeeded", str(trip["not_succeeded"]))
    labels = {
        "created_sent": "  created -> sent p50 (mean)",
        "sent_started": "  sent -> started p50 (mean)",
        "started_finished": "  started -> finished p50 (mean)",
        "outside": "  rest of the request p50 (mean)",
    }
    for key, label in labels.items():
        if part := trip["breakdown_ms"].get(key):
            note(label, f"{part['p50']:.2f} ({part['mean']:.2f})")
    note("  HTTP floor: GET /health p50 (ms)", f"{trip['health_ms']['p50']:.2f}")
    note("  controller CPU per run (ms)", f"{trip['controller_cpu_ms_per_run']:.2f}")
    note("  agent CPU per run (ms)", f"{trip['agent_cpu_ms_per_run']:.2f}")
    theirs = {f["n"]: f["median_ms"] for f in salt.get("fanout", [])}
    for fan in mine["fanout"]:
        label = f"fan-out to {fan['n']}, median of {REPEATS} (ms)"
        row(label, fan["median_ms"], None, theirs.get(fan["n"]), "{:,.1f}")
        note("  first created -> last finished", f"{fan['server_span_median_ms']:,.1f}")
    return render(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--fanout", default="1,10,50", help="agent counts, comma-separated")
    parser.add_argument("--salt-max-minions", type=int, default=50)
    parser.add_argument("--no-salt", action="store_true", help="measure deskside alone")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    fanout = sorted({int(n) for n in args.fanout.split(",") if n.strip()})
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every process; SIGINT is set
    # explicitly because a shell starts background jobs with it ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    salt_error = "--no-salt" if args.no_salt else ensure_salt()
    os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{psutil.cpu_count()} cores, {os_name}, Python {platform.python_version()}",
        "runs": args.runs,
        "fanout": fanout,
    }
    work = Path(tempfile.mkdtemp(prefix="deskside-roundtrip-"))
    try:
        results["deskside"] = measure_deskside(work / "deskside", args.runs, fanout)
        if salt_error is None:
            try:
                results["salt"] = measure_salt(
                    work / "salt", args.runs, fanout, args.salt_max_minions
                )
            except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
                salt_error = f"salt did not come up: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["salt_error"] = salt_error
    salt = results.get("salt") or {}
    print(f"\n{results['date']}  {results['machine']}  salt {salt.get('version', '-')}")
    print(table(results))
    for who, capped in (("deskside", results["deskside"]["capped"]), ("salt", salt.get("capped"))):
        if capped:
            print(f"{who} fan-out stopped early: {capped}")
    for fan in salt.get("fanout", []):  # a missing answer would make Salt look faster
        if fan["fewest"] < fan["n"]:
            print(f"salt fan-out to {fan['n']}: a call got only {fan['fewest']} answers")
    for fan in results["deskside"]["fanout"]:
        if fan["fewest_succeeded"] < fan["n"]:
            print(f"deskside fan-out to {fan['n']}: only {fan['fewest_succeeded']} succeeded")
    if salt_error:
        print(f"\nsalt not measured: {salt_error}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the finally blocks have stopped everything by now
        print("interrupted: every process stopped, temp dir removed", file=sys.stderr)
        sys.exit(130)
