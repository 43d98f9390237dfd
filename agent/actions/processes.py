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

_ATTRS = ["pid", "name", "username", "cmdline", "create_time", "memory_info"]
_SIGNALS = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT}
if hasattr(signal, "SIGHUP"):
    _SIGNALS |= {"HUP": signal.SIGHUP, "QUIT": signal.SIGQUIT}
SAMPLE_S = 0.3  # CPU use is a rate: sample it over this long
WAIT_S = 5.0


def _describe(proc: psutil.Process, cpu: float | None = None) -> dict[str, Any]:
    info = proc.info if hasattr(proc, "info") else proc.as_dict(_ATTRS)
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
    procs = list(psutil.process_iter(_ATTRS))
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
    time.sleep(SAMPLE_S)
    rows = []
    for proc in procs:
        if params.name and proc.info.get("name") != params.name:
            continue
        try:
            rows.append(_describe(proc, proc.cpu_percent(None)))
        except psutil.Error:
            continue
    key = "cpu_percent" if params.sort == "cpu" else "rss"
    rows.sort(key=lambda r: r.get(key) or 0, reverse=True)
    top = rows[: params.limit]
    lines = [
        f"{r['pid']:>7} {r['cpu_percent']:>5}% {(r['rss'] or 0) // 2**20:>6} MiB  {r['name']}"
        for r in top
    ]
    return ActionResult(output="\n".join(lines), data={"count": len(rows), "processes": top})


def _protected() -> set[int]:
    return {1, os.getpid(), os.getppid()}


def _targets(params: Any) -> tuple[list[psutil.Process], str | None]:
    if params.pid is not None:
        if params.pid in _protected():
            return [], f"pid {params.pid} is protected (init, the agent or its parent)"
        try:
            proc = psutil.Process(params.pid)
            proc.info = proc.as_dict(_ATTRS)
        except psutil.NoSuchProcess:
            return [], f"no process with pid {params.pid}"
        return [proc], None
    matches = [
        p
        for p in psutil.process_iter(_ATTRS)
        if p.info.get("name") == params.name and p.pid not in _protected()
    ]
    return matches, None if matches else f"no process named {params.name}"


def process_kill(params: Any, ctx: ActionContext) -> ActionResult:
    targets, problem = _targets(params)
    if problem:
        code = "policy_denied" if "protected" in problem else "not_found"
        return ActionResult.failure(code, problem)
    before = [_describe(p) for p in targets]
    names = ", ".join(f"{d['name']} ({d['pid']})" for d in before)
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
            return ActionResult.failure(
                "permission_denied",
                f"not allowed to signal pid {proc.pid}",
                evidence=Evidence(before=before),
            )
    _, alive = psutil.wait_procs(sent, timeout=WAIT_S)
    after = {"signalled": [p.pid for p in sent], "still_running": [p.pid for p in alive]}
    output = f"sent SIG{params.signal} to {names}"
    if alive:
        output += f"; still running after {WAIT_S:g} s: {', '.join(str(p.pid) for p in alive)}"
    return ActionResult(
        changed=bool(sent), output=output, evidence=Evidence(before=before, after=after)
    )


ACTIONS = {"process.list": process_list, "process.kill": process_kill}
