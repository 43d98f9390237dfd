"""service.status / start / stop / restart: systemd where it is PID 1, SysV init otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalogue import ActionResult, Evidence
from catalogue.probes import systemd, sysv
from catalogue.result import bounded
from controller.transports.base import Completed, RemoteContext

# LSB: 0 running, 1-3 dead or stopped, 4 unknown.
_LSB_STATE = {0: "running", 1: "stopped", 2: "stopped", 3: "stopped"}
PID_FILES = ("/run/{0}.pid", "/run/{0}/{0}.pid", "/var/run/{0}.pid", "/var/run/{0}/{0}.pid")
CONTROL_TIMEOUT_S = 120.0


def manager(ctx: RemoteContext) -> str:
    """systemd or sysv, probed once per target (sd_booted(3): the runtime directory)."""
    if "service_manager" not in ctx.facts:
        booted = ctx.run(["test", "-d", systemd.RUNTIME_DIR], timeout=15).returncode == 0
        ctx.facts["service_manager"] = "systemd" if booted else "sysv"
    return str(ctx.facts["service_manager"])


def _live_pid(ctx: RemoteContext, name: str) -> int | None:
    """The pid a SysV service recorded, if that process still runs."""
    for pattern in PID_FILES:
        read = ctx.run(["cat", "--", pattern.format(name)], timeout=15)
        words = read.stdout.split()
        if read.returncode != 0 or not words or not words[0].isdigit():
            continue
        if ctx.run(["kill", "-0", words[0]], timeout=15).returncode == 0:
            return int(words[0])
    return None


def _systemd_status(ctx: RemoteContext, name: str) -> dict[str, Any]:
    wanted = "--property=LoadState,ActiveState,SubState,MainPID"
    shown = ctx.run(["systemctl", "show", wanted, "--", name], timeout=30)
    props = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    if props.get("LoadState") == "not-found":
        return {"name": name, "manager": "systemd", "state": "not_found", "pid": None}
    return {
        "name": name,
        "manager": "systemd",
        "state": "running" if props.get("ActiveState") == "active" else "stopped",
        "pid": int(props.get("MainPID", "0") or 0) or None,
        "sub_state": props.get("SubState"),
    }


def status(ctx: RemoteContext, name: str) -> dict[str, Any]:
    if manager(ctx) == "systemd":
        return _systemd_status(ctx, name)
    script = f"{sysv.INIT_DIR}/{name}"  # ServiceName admits no '/': the path stays inside
    if ctx.run(["test", "-f", script], timeout=15).returncode != 0:
        return {"name": name, "manager": "sysv", "state": "not_found", "pid": None}
    checked = ctx.run(["service", name, "status"], timeout=60)
    state = _LSB_STATE.get(checked.returncode, "unknown")
    pid = _live_pid(ctx, name) if state == "running" else None
    return {"name": name, "manager": "sysv", "state": state, "pid": pid}


def _line(found: dict[str, Any]) -> str:
    pid = f", pid {found['pid']}" if found.get("pid") else ""
    return f"{found['name']}: {found['state']}{pid}"


def _command(ctx: RemoteContext, verb: str, name: str) -> Completed:
    if manager(ctx) == "systemd":
        return ctx.run(["systemctl", verb, "--", name], timeout=CONTROL_TIMEOUT_S)
    return ctx.run(["service", name, verb], timeout=CONTROL_TIMEOUT_S)


def service_status(params: Any, ctx: RemoteContext) -> ActionResult:
    found = status(ctx, params.name)
    if found["state"] == "not_found":
        return ActionResult.failure("not_found", f"no service named {params.name}", data=found)
    return ActionResult(output=_line(found), data=found)


def _control(verb: str, wanted: str) -> Callable[[Any, RemoteContext], ActionResult]:
    def act(params: Any, ctx: RemoteContext) -> ActionResult:
        before = status(ctx, params.name)
        if before["state"] == "not_found":
            message = f"no service named {params.name}"
            return ActionResult.failure("not_found", message, evidence=Evidence(before=before))
        if ctx.dry_run:
            return ActionResult(
                output=f"would {verb} {_line(before)}", evidence=Evidence(before=before)
            )
        done = _command(ctx, verb, params.name)
        ctx.emit(done.stdout + done.stderr)
        after = status(ctx, params.name)
        said = f"{done.stdout}{done.stderr}"
        output = bounded(f"{_line(before)} -> {_line(after)}\n{said}".strip())
        evidence = Evidence(before=before, after=after)
        if done.returncode != 0:
            message = f"{verb} exited with {done.returncode}"
            return ActionResult.failure("command_failed", message, output=output, evidence=evidence)
        if after["state"] != wanted:
            message = f"{params.name} is {after['state']} after {verb}"
            return ActionResult.failure("not_" + wanted, message, output=output, evidence=evidence)
        changed = verb == "restart" or before["state"] != after["state"]
        return ActionResult(changed=changed, output=output, evidence=evidence)

    return act


ACTIONS = {
    "service.status": service_status,
    "service.start": _control("start", "running"),
    "service.stop": _control("stop", "stopped"),
    "service.restart": _control("restart", "running"),
}
