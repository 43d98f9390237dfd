"""Ticket API throughput: one controller process on SQLite, loaded by wrk on loopback.

Starts a real controller (tests/processes.py: SQLite in a temp dir, default settings) and sets
up a desk through the API: 4 round-robin teams of 5 analysts, 20 requesters and an SLA policy
for priority 3. It then writes --tickets tickets (default 10,000) straight into the SQLite
file in one bulk insert, with the spread of bench/desk_queues_pg.py (5% open, most of them
recent; the first team the busiest): through the API that would take minutes (see the
create figures). Then, for each route and each connection count, wrk runs --duration seconds
after a --warmup run that is not counted:

  GET /api/v1/health              the HTTP floor: no auth, `SELECT 1` (the peer column)
  GET /api/v1/tickets/{id}        a random seeded ticket each request
  GET /api/v1/tickets?limit=50    the newest 50
  GET /api/v1/teams/1/queue?limit=50   the busiest team's open tickets
  POST /api/v1/tickets            a triaged ticket for team 1 (routing, SLA, timeline, audit)

The controller's CPU is its utime+stime over each run; wrk's is from getrusage of its
children. There is no installable ticket-desk peer on this machine (GLPI and iTop are PHP,
Zammad is Ruby on Rails, each with its own web server and database): the peer column is
deskside's own HTTP floor, measured in the same run the same way.

    python bench/desk_api.py [--connections 8,32] [--duration 15] [--threads 1] [--json out]

Needs wrk: run as root on Debian it installs the package `wrk`; otherwise
`sudo apt-get install wrk`. A benchmark, not a test: it prints figures and
asserts nothing about them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from desk_queues_pg import CHANNELS, RESOLVE_HOURS, SUBJECTS, TYPES, Spread  # noqa: E402
from processes import ADMIN_TOKEN, ControllerProcess  # noqa: E402
from report import render  # noqa: E402

from controller.desk.lifecycle import OPEN_STATES  # noqa: E402
from controller.desk.priority import DEFAULT_MATRIX  # noqa: E402
from controller.storage.models import Ticket  # noqa: E402

LUA = ROOT / "bench" / "desk_api.lua"
GOAL_READ_RPS, GOAL_CREATE_RPS = 5000.0, 1000.0
SPREAD = Spread(teams=4, analysts_per_team=5, requesters=20)
PAGE = 50
POST_BODY = {
    "title": "Printer on the 3rd floor jams on every job",
    "description": "Since this morning every print job stops with a paper jam. " * 4,
    "channel": "phone",
    "impact": 2,
    "urgency": 2,
    "team_id": 1,  # replaced by the busiest team's id
    "requester_id": 0,  # replaced by a requester's id
}


@dataclass(frozen=True)
class Route:
    key: str
    label: str
    goal: float | None
    args: list[str]  # desk_api.lua's, after the token


def ensure_wrk() -> str | None:
    """wrk's version; as root on Debian, install the package first if it is missing."""
    if shutil.which("wrk") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing the Debian package wrk", flush=True)
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-qy", "wrk"], capture_output=True, check=False)
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return out.split(" [")[0].removeprefix("wrk ").strip() or "wrk"


# -- the desk --------------------------------------------------------------------------------


def _ok(response: httpx.Response, status: int = 201) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response.json()


def set_up_desk(client: httpx.Client) -> dict[str, Any]:
    """Teams, analysts, requesters and an SLA policy, through the API."""
    analysts, teams = [], []
    for t in range(SPREAD.teams):
        members = [
            _ok(client.post("/users", json={"username": f"analyst{t}-{m}", "role": "tier1"}))["id"]
            for m in range(SPREAD.analysts_per_team)
        ]
        team = {"name": f"Team {t + 1}", "assignment": "round_robin", "member_ids": members}
        teams.append(_ok(client.post("/teams", json=team))["id"])
        analysts.append(members)
    requesters = [
        _ok(client.post("/users", json={"username": f"requester{r}", "role": "requester"}))["id"]
        for r in range(SPREAD.requesters)
    ]
    policy = {"name": "P3", "priority": 3, "own_within_s": 4 * 3600, "resolve_within_s": 86400}
    _ok(client.post("/sla-policies", json=policy))
    return {"teams": teams, "analysts": analysts, "requesters": requesters}


def ticket_rows(count: int, desk: dict[str, Any], now: dt.datetime) -> Iterator[dict[str, Any]]:
    """The spread of desk_queues_pg.tickets_sql, drawn in Python."""
    rng = random.Random(42)
    span_s = SPREAD.years * 365 * 86400
    open_states = ("new", "assigned", "in_progress", "pending")
    assert set(open_states) == OPEN_STATES
    for i in range(1, count + 1):
        created = now - dt.timedelta(seconds=(count - i) * span_s / count)
        fresh = i > count * (1 - SPREAD.fresh_ids)
        is_open = rng.random() < (SPREAD.fresh_open if fresh else SPREAD.tail_open)
        team = int(SPREAD.teams * rng.random() ** SPREAD.team_skew)
        draw = rng.random()
        if is_open:
            state = open_states[(draw >= 0.30) + (draw >= 0.55) + (draw >= 0.85)]
        else:
            state = "resolved" if draw < 0.15 else "closed"
        impact, urgency = rng.randint(1, 3), rng.randint(1, 3)
        priority = DEFAULT_MATRIX[impact - 1][urgency - 1]
        resolve_due = created + dt.timedelta(hours=RESOLVE_HOURS[priority - 1])
        done = created + dt.timedelta(hours=96 * rng.random())
        yield {
            "id": i,
            "title": f"{SUBJECTS[i % len(SUBJECTS)]} ({i})",
            "description": f"{i:032x}" * 4,
            "requester_id": rng.choice(desk["requesters"]),
            "channel": rng.choice(CHANNELS),
            "type": rng.choice(TYPES),
            "team_id": desk["teams"][team],
            "assignee_id": None if state == "new" else rng.choice(desk["analysts"][team]),
            "state": state,
            "pending_reason": "requester" if state == "pending" else None,
            "impact": impact,
            "urgency": urgency,
            "priority": priority,
            "resolution": "" if is_open else "Fixed: see the timeline.",
            "own_due_at": created + (resolve_due - created) / 4,
            "resolve_due_at": resolve_due,
            "sla_state": ("breached" if resolve_due < now else "running")
            if is_open
            else ("breached" if rng.random() < 0.1 else "met"),
            "owned_at": None if state == "new" else created + (done - created) / 8,
            "resolved_at": None if is_open else done,
            "closed_at": done + dt.timedelta(days=3) if state == "closed" else None,
            "created_at": created,
            "updated_at": created if is_open else done,
        }


def seed(database: Path, count: int, desk: dict[str, Any]) -> float:
    """Bulk-insert the tickets beside the running controller (SQLite in WAL mode)."""
    started = time.monotonic()
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(Ticket), list(ticket_rows(count, desk, dt.datetime.now(dt.UTC)))
            )
    finally:
        engine.dispose()
    return time.monotonic() - started


# -- the load --------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy_s() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def wrk(url: str, route: Route, connections: int, seconds: float, threads: int) -> dict[str, Any]:
    argv = [
        "wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds:g}s",
        "--timeout", "30s", "-s", str(LUA), url, "--", ADMIN_TOKEN, *route.args,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    for line in done.stdout.splitlines():
        if line.startswith("DESKSIDE_JSON "):
            return dict(json.loads(line.removeprefix("DESKSIDE_JSON ")))
    raise RuntimeError(f"wrk printed no summary (exit {done.returncode}):\n{done.stderr}")


def measure_route(
    url: str, pid: int, route: Route, connections: int, seconds: float, threads: int
) -> dict[str, Any]:
    before = (time.monotonic(), cpu_s(pid), children_cpu_s(), machine_busy_s())
    figures = wrk(url, route, connections, seconds, threads)
    wall, controller, wrk_cpu, machine = (
        now - then
        for now, then in zip(
            (time.monotonic(), cpu_s(pid), children_cpu_s(), machine_busy_s()), before, strict=True
        )
    )
    requests = figures["requests"]
    elapsed_s = figures["duration_us"] / 1e6
    socket_errors = sum(figures[k] for k in ("connect", "read", "write", "timeout"))
    return {
        "route": route.key,
        "connections": connections,
        "rps": requests / elapsed_s,
        "requests": requests,
        "p50_ms": figures["p50_us"] / 1000,
        "p90_ms": figures["p90_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "max_ms": figures["max_us"] / 1000,
        "non_2xx": figures["status"],
        "socket_errors": socket_errors,
        "controller_cpu_pct": 100 * controller / wall,
        "controller_cpu_ms_per_request": 1000 * controller / max(requests, 1),
        "wrk_cpu_pct": 100 * wrk_cpu / wall,
        "machine_busy_pct": 100 * machine / wall / psutil.cpu_count(),
        "others_cpu_pct": 100 * (machine - controller - wrk_cpu) / wall,
    }


def routes(desk: dict[str, Any], count: int) -> list[Route]:
    team = desk["teams"][0]
    body = POST_BODY | {"team_id": team, "requester_id": desk["requesters"][0]}
    return [
        Route("health", "GET /health (floor)", None, ["fixed", "GET", "/api/v1/health"]),
        Route("get", "GET /tickets/{id}", GOAL_READ_RPS,
              ["ids", "/api/v1/tickets/", "1", str(count)]),
        Route("list", f"GET /tickets?limit={PAGE}", GOAL_READ_RPS,
              ["fixed", "GET", f"/api/v1/tickets?limit={PAGE}"]),
        Route("queue", f"GET /teams/{{id}}/queue?limit={PAGE}", GOAL_READ_RPS,
              ["fixed", "GET", f"/api/v1/teams/{team}/queue?limit={PAGE}"]),
        Route("create", "POST /tickets", GOAL_CREATE_RPS,
              ["fixed", "POST", "/api/v1/tickets", json.dumps(body)]),
    ]  # fmt: skip


def preflight(client: httpx.Client, route: Route) -> int:
    """One request as wrk will send it: the route must answer 2xx, else nothing is measured."""
    if route.args[0] == "ids":
        response = client.get(f"{route.args[1]}{route.args[3]}")
    else:
        method, path, *body = route.args[1:]
        response = client.request(method, path, content=body[0] if body else None)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"{route.label}: {response.status_code} {response.text[:300]}")
    return len(response.content)


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    controller = ControllerProcess(work / "controller", f"sqlite:///{work}/deskside.db")
    for name in ("DESKSIDE_HEARTBEAT_INTERVAL_S", "DESKSIDE_INVENTORY_INTERVAL_S"):
        controller.env.pop(name)  # the real defaults, not the tests'
    result: dict[str, Any] = {"runs": []}
    try:
        print("starting the controller...", flush=True)
        controller.start()
        assert controller.process is not None
        pid = controller.process.pid
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        with httpx.Client(base_url=controller.url, headers=headers, timeout=30) as client:
            with httpx.Client(base_url=controller.url + "/api/v1", headers=headers) as api:
                desk = set_up_desk(api)
            print(f"bulk-inserting {args.tickets:,} tickets...", flush=True)
            result["seed_s"] = seed(work / "deskside.db", args.tickets, desk)
            measured = routes(desk, args.tickets)
            result["bytes"] = {r.key: preflight(client, r) for r in measured}
        for route in measured:
            print(f"{route.label}: warm-up {args.warmup:g} s", flush=True)
            wrk(controller.url, route, args.connections[0], args.warmup, args.threads)
            for connections in args.connections:
                print(f"  {connections} connections, {args.duration:g} s...", flush=True)
                run = measure_route(
                    controller.url, pid, route, connections, args.duration, args.threads
                )
                result["runs"].append(run | {"label": route.label, "goal": route.goal})
                time.sleep(1)
        result["log_errors"] = sum(
            " ERROR " in line or "Traceback" in line for line in controller.log().splitlines()
        )
    finally:
        with contextlib.suppress(AssertionError, OSError):
            controller.stop()
    return result


# -- the report ------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    rows = [["figure", "deskside", "goal", "GET /health", "health/deskside"]]
    floor = {r["connections"]: r for r in results["runs"] if r["route"] == "health"}
    details = [
        ("  p50 / p99 (ms)", lambda r: f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}"),
        ("  non-2xx / socket errors", lambda r: f"{r['non_2xx']} / {r['socket_errors']}"),
        ("  controller CPU (% of a core)", lambda r: f"{r['controller_cpu_pct']:.0f}"),
        (
            "  controller CPU per request (ms)",
            lambda r: f"{r['controller_cpu_ms_per_request']:.2f}",
        ),
        (
            "  one core's worth at that cost (req/s)",
            lambda r: f"{1000 / max(r['controller_cpu_ms_per_request'], 1e-9):,.0f}",
        ),
        (
            "  wrk / others CPU (% of a core)",
            lambda r: f"{r['wrk_cpu_pct']:.0f} / {r['others_cpu_pct']:.0f}",
        ),
    ]
    for run in results["runs"]:
        if run["route"] == "health":
            continue
        peer = floor.get(run["connections"])
        goal = run["goal"]
        verdict = f">= {goal:,.0f} {'ok' if run['rps'] >= goal else 'MISSED'}" if goal else ""
        theirs = peer["rps"] if peer else None
        ratio = f"{theirs / run['rps']:.1f}x" if theirs and run["rps"] else "-"
        label = f"{run['label']}, c={run['connections']} (req/s)"
        rows.append([label, f"{run['rps']:,.0f}", verdict, f"{theirs or 0:,.0f}", ratio])
        for name, show in details:
            rows.append([name, show(run), "", show(peer) if peer else "-", "-"])
    return render(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--connections", default="8,32", help="comma-separated")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds, once per route")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (2 cores here)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    args.connections = sorted({int(c) for c in args.connections.split(",") if c.strip()})
    version = ensure_wrk()
    if version is None:
        print(
            "wrk is not installed and could not be: on Debian/Ubuntu `sudo apt-get install wrk`, "
            "elsewhere build it from https://github.com/wg/wrk; nothing measured",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{psutil.cpu_count()} cores, {os_name}, Python {platform.python_version()}",
        "wrk": version,
        "threads": args.threads,
        "connections": args.connections,
        "duration_s": args.duration,
        "tickets": args.tickets,
        "load_before": os.getloadavg(),
    }
    work = Path(tempfile.mkdtemp(prefix="deskside-desk-api-"))
    try:
        results |= measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    print(
        f"\n{results['date']}  {results['machine']}  wrk {version} -t{args.threads}, "
        f"{args.duration:g} s per run"
    )
    print(
        f"{args.tickets:,} tickets bulk-inserted in {results['seed_s']:.1f} s; load average "
        f"{results['load_before'][0]:.2f} before, {results['load_after'][0]:.2f} after; "
        f"response bytes: " + ", ".join(f"{k} {v:,}" for k, v in results["bytes"].items())
    )
    print(table(results))
    print(
        "peer: none installable here (GLPI and iTop are PHP, Zammad is Ruby on Rails); the "
        "peer column is deskside's own GET /api/v1/health, the HTTP floor, same run"
    )
    if results["log_errors"]:
        print(f"the controller logged {results['log_errors']} error line(s) during the run")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the finally blocks have stopped everything by now
        print("interrupted: the controller stopped, temp dir removed", file=sys.stderr)
        sys.exit(130)
