"""process.list and process.kill (never pid 1, never the agent or its parent)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

import psutil

from agent.actions.context import ActionContext
from catalogue import ActionResult, Evidence
from catalogue.outcomes.processes import killed, listing, named, signal_denied

_ATTRS = ["pid", "name", "username", "cmdline", "create_time", "memory_info"]
_SIGNALS = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT}
if hasattr(signal, "SIGHUP"):
    _SIGNALS |= {"HUP": signal.SIGHUP, "QUIT": signal.SIGQUIT}
SAMPLE_S = 0.3  # CPU use is a rate: sample it over this long
WAIT_S = 5.0


def _fresh_processes() -> list[psutil.Process]:
    """Process objects of our own: psutil.process_iter shares cached ones program-wide,
    and the inventory collector rewrites their .info and CPU baselines from its thread."""
    procs = []
    for pid in psutil.pids():
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(pid))
    return procs


def _describe(proc: psutil.Process, cpu: float | None = None) -> dict[str, Any] | None:
    try:
        info = proc.as_dict(_ATTRS)
    except psutil.Error:
        return None
    memory = info.get("memory_info")
    described = {
        "pid": info["pid"],
        "name": info.get("name"),
        "user": info.get("username"),
        "cmdline": " ".join(info.get("cmdline") or [])[:500],
        "rss": memory.rss if memory else None,
        "started": info.get("create_time"),
    }
    if cpu is not None:
        described["cpu_percent"] = round(cpu, 1)
    return described


def process_list(params: Any, ctx: ActionContext) -> ActionResult:
    procs = _fresh_processes()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
    time.sleep(SAMPLE_S)
    rows = []
    for proc in procs:
        try:
            cpu = proc.cpu_percent(None)
        except psutil.Error:
            continue
        row = _describe(proc, cpu)
        if row is not None:
            rows.append(row)
    return listing(rows, params)


def _protected() -> set[int]:
    return {1, os.getpid(), os.getppid()}


def _targets(params: Any) -> tuple[list[psutil.Process], str | None]:
    if params.pid is not None:
        if params.pid in _protected():
            return [], f"pid {params.pid} is protected (init, the agent or its parent)"
        try:
            return [psutil.Process(params.pid)], None
        except psutil.NoSuchProcess:
            return [], f"no process with pid {params.pid}"
    matches = []
    for proc in _fresh_processes():
        with contextlib.suppress(psutil.Error):
            if proc.name() == params.name and proc.pid not in _protected():
                matches.append(proc)
    return matches, None if matches else f"no process named {params.name}"


def process_kill(params: Any, ctx: ActionContext) -> ActionResult:
    targets, problem = _targets(params)
    if problem:
        code = "policy_denied" if "protected" in problem else "not_found"
        return ActionResult.failure(code, problem)
    before = [d for d in (_describe(p) for p in targets) if d is not None]
    names = named(before)
    if ctx.dry_run:
        return ActionResult(
            output=f"would send SIG{params.signal} to {names}", evidence=Evidence(before=before)
        )
    sent = []
    for proc in targets:
        try:
            proc.send_signal(_SIGNALS[params.signal])
            sent.append(proc)
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            return signal_denied(proc.pid, before)
    _, alive = psutil.wait_procs(sent, timeout=WAIT_S)
    did = f"sent SIG{params.signal} to {names}"
    return killed(did, before, [p.pid for p in sent], [p.pid for p in alive], WAIT_S)


ACTIONS = {"process.list": process_list, "process.kill": process_kill}
