"""service.status / start / stop / restart: systemd where it runs, SysV init otherwise.

Windows (SCM) and macOS (launchd) have their commands and parsers in services_other.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from agent.actions import services_other
from agent.actions.context import ActionContext
from catalogue import ActionResult, Evidence
from catalogue.result import bounded

SYSTEMD_MARKER = Path("/run/systemd/system")
INIT_D = Path("/etc/init.d")
PID_DIRS = (Path("/run"), Path("/var/run"))
# LSB: 0 running, 1-3 dead or stopped, 4 unknown.
_LSB_STATE = {0: "running", 1: "stopped", 2: "stopped", 3: "stopped"}


def _pid_from_file(name: str) -> int | None:
    for directory in PID_DIRS:
        for candidate in (directory / f"{name}.pid", directory / name / f"{name}.pid"):
            try:
                pid = int(candidate.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if psutil.pid_exists(pid):
                return pid
    return None


def status(name: str, ctx: ActionContext) -> dict[str, Any]:
    if sys.platform == "win32":
        return services_other.status_windows(name, ctx)
    if sys.platform == "darwin":
        return services_other.status_macos(name, ctx)
    if SYSTEMD_MARKER.is_dir():
        shown = ctx.run(
            ["systemctl", "show", "--property=LoadState,ActiveState,SubState,MainPID", "--", name]
        )
        props = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
        if props.get("LoadState") == "not-found":
            return {"name": name, "manager": "systemd", "state": "not_found", "pid": None}
        pid = int(props.get("MainPID", "0") or 0) or None
        state = "running" if props.get("ActiveState") == "active" else "stopped"
        return {
            "name": name,
            "manager": "systemd",
            "state": state,
            "pid": pid,
            "sub_state": props.get("SubState"),
        }
    if not (INIT_D / name).is_file():
        return {"name": name, "manager": "sysv", "state": "not_found", "pid": None}
    checked = ctx.run(["service", name, "status"])
    state = _LSB_STATE.get(checked.returncode, "unknown")
    return {
        "name": name,
        "manager": "sysv",
        "state": state,
        "pid": _pid_from_file(name) if state == "running" else None,
    }


def _describe(s: dict[str, Any]) -> str:
    pid = f", pid {s['pid']}" if s.get("pid") else ""
    return f"{s['name']}: {s['state']}{pid}"


def _run_control(verb: str, name: str, ctx: ActionContext) -> subprocess.CompletedProcess[str]:
    if sys.platform == "win32":
        return services_other.control_windows(verb, name, ctx)
    if sys.platform == "darwin":
        return services_other.control_macos(verb, name, ctx)
    if SYSTEMD_MARKER.is_dir():
        return ctx.run(["systemctl", verb, "--", name], timeout=120, stream=True)
    return ctx.run(["service", name, verb], timeout=120, stream=True)


def service_status(params: Any, ctx: ActionContext) -> ActionResult:
    found = status(params.name, ctx)
    if found["state"] == "not_found":
        return ActionResult.failure("not_found", f"no service named {params.name}", data=found)
    return ActionResult(output=_describe(found), data=found)


def _control(verb: str, wanted: str) -> Any:
    def act(params: Any, ctx: ActionContext) -> ActionResult:
        before = status(params.name, ctx)
        if before["state"] == "not_found":
            return ActionResult.failure(
                "not_found", f"no service named {params.name}", evidence=Evidence(before=before)
            )
        if ctx.dry_run:
            return ActionResult(
                output=f"would {verb} {_describe(before)}", evidence=Evidence(before=before)
            )
        done = _run_control(verb, params.name, ctx)
        after = status(params.name, ctx)
        output = bounded(
            f"{_describe(before)} -> {_describe(after)}\n{done.stdout}{done.stderr}".strip()
        )
        evidence = Evidence(before=before, after=after)
        if done.returncode != 0:
            return ActionResult.failure(
                "command_failed",
                f"{verb} exited with {done.returncode}",
                output=output,
                evidence=evidence,
            )
        if after["state"] != wanted:
            return ActionResult.failure(
                "not_" + wanted,
                f"{params.name} is {after['state']} after {verb}",
                output=output,
                evidence=evidence,
            )
        changed = verb == "restart" or before["state"] != after["state"]
        return ActionResult(changed=changed, output=output, evidence=evidence)

    return act


ACTIONS = {
    "service.status": service_status,
    "service.start": _control("start", "running"),
    "service.stop": _control("stop", "stopped"),
    "service.restart": _control("restart", "running"),
}
