"""process.list and process.kill, from one ps(1) table (procps: Linux).

ps reports %CPU over each process's lifetime, not over a short sample as the agent does:
a second remote sample would double the round trips for a rough figure either way.
"""

from __future__ import annotations

import time
from typing import Any

from catalogue import ActionResult, Evidence
from catalogue.outcomes.processes import killed, listing, named, signal_denied
from controller.transports.base import RemoteContext
from controller.transports.posix.common import said

# args is last: it holds blanks. comm may hold blanks too, hence a second listing.
TABLE = ["ps", "-eo", "pid=,ppid=,stat=,pcpu=,rss=,etimes=,user:32=,args="]
NAMES = ["ps", "-eo", "pid=,comm="]
WAIT_S = 5.0
POLL_S = 0.2


def table(ctx: RemoteContext) -> dict[int, dict[str, Any]]:
    """Every process by pid: {pid, ppid, stat, name, user, cmdline, rss, started, cpu_percent}."""
    now = float(ctx.run(["date", "+%s"], timeout=15).stdout.strip() or time.time())
    names: dict[int, str] = {}
    for line in ctx.run(NAMES, timeout=30).stdout.splitlines():
        number, _, name = line.strip().partition(" ")
        if number.isdigit():
            names[int(number)] = name.strip()
    rows: dict[int, dict[str, Any]] = {}
    for line in ctx.run(TABLE, timeout=30).stdout.splitlines():
        fields = line.split(None, 7)
        if len(fields) < 7 or not fields[0].isdigit():
            continue
        pid = int(fields[0])
        rows[pid] = {
            "pid": pid,
            "ppid": int(fields[1]),
            "stat": fields[2],
            "name": names.get(pid),
            "user": fields[6],
            "cmdline": (fields[7] if len(fields) > 7 else "")[:500],
            "rss": int(fields[4]) * 1024,  # KiB
            "started": now - int(fields[5]),
            "cpu_percent": float(fields[3]),
        }
    return rows


def _public(row: dict[str, Any], cpu: bool = False) -> dict[str, Any]:
    """A row with the agent's keys."""
    keys = ["pid", "name", "user", "cmdline", "rss", "started", *(["cpu_percent"] if cpu else [])]
    return {key: row[key] for key in keys}


def process_list(params: Any, ctx: RemoteContext) -> ActionResult:
    return listing((_public(row, cpu=True) for row in table(ctx).values()), params)


def protected(ctx: RemoteContext, rows: dict[int, dict[str, Any]]) -> set[int]:
    """init, and the session our commands run in (sshd and its ancestors): never signalled."""
    session = ctx.run(["sh", "-c", 'echo "$PPID"'], timeout=15).stdout.strip()
    chain = {1}
    pid = int(session) if session.isdigit() else 1
    while pid > 1 and pid not in chain:
        chain.add(pid)
        pid = rows[pid]["ppid"] if pid in rows else 1
    return chain


def _targets(params: Any, ctx: RemoteContext) -> list[dict[str, Any]] | ActionResult:
    rows = table(ctx)
    guarded = protected(ctx, rows)
    if params.pid is not None:
        if params.pid in guarded:
            message = f"pid {params.pid} is protected (init, or the session running this)"
            return ActionResult.failure("policy_denied", message)
        if params.pid not in rows:
            return ActionResult.failure("not_found", f"no process with pid {params.pid}")
        return [rows[params.pid]]
    found = [r for r in rows.values() if r["name"] == params.name and r["pid"] not in guarded]
    return found or ActionResult.failure("not_found", f"no process named {params.name}")


def _alive(ctx: RemoteContext, pids: list[int]) -> list[int]:
    """Those still running; a zombie has ended, whoever reaps it."""
    listed = ctx.run(["ps", "-o", "pid=,stat=", "-p", ",".join(map(str, pids))], timeout=15)
    running = []
    for line in listed.stdout.splitlines():
        pid, _, stat = line.strip().partition(" ")
        if pid.isdigit() and not stat.strip().startswith("Z"):
            running.append(int(pid))
    return running


def process_kill(params: Any, ctx: RemoteContext) -> ActionResult:
    targets = _targets(params, ctx)
    if isinstance(targets, ActionResult):
        return targets
    before = [_public(row) for row in targets]
    names = named(before)
    if ctx.dry_run:
        return ActionResult(
            output=f"would send SIG{params.signal} to {names}", evidence=Evidence(before=before)
        )
    sent: list[int] = []
    for row in targets:  # one at a time: some shells' kill does not say which pid failed
        done = ctx.run(["kill", "-s", params.signal, "--", str(row["pid"])], timeout=30)
        if done.returncode == 0:
            sent.append(row["pid"])
        elif "not permitted" in said(done):
            return signal_denied(row["pid"], before)
    deadline = time.monotonic() + WAIT_S
    alive = _alive(ctx, sent) if sent else []
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_S)
        alive = _alive(ctx, alive)
    return killed(f"sent SIG{params.signal} to {names}", before, sent, alive, WAIT_S)


ACTIONS = {"process.list": process_list, "process.kill": process_kill}
