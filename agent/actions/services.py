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
from catalogue.outcomes.services import actions as service_actions
from catalogue.probes import systemd, sysv

SYSTEMD_MARKER = Path("/run/systemd/system")
INIT_D = Path("/etc/init.d")
PID_DIRS = (Path("/run"), Path("/var/run"))


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
        shown = ctx.run(["systemctl", "show", systemd.SHOW_PROPERTIES, "--", name])
        return systemd.parse_show(name, shown.stdout)
    if not (INIT_D / name).is_file():
        return {"name": name, "manager": "sysv", "state": "not_found", "pid": None}
    checked = ctx.run(["service", name, "status"])
    state = sysv.status_state(checked.returncode)
    return {
        "name": name,
        "manager": "sysv",
        "state": state,
        "pid": _pid_from_file(name) if state == "running" else None,
    }


def _run_control(verb: str, name: str, ctx: ActionContext) -> subprocess.CompletedProcess[str]:
    if sys.platform == "win32":
        return services_other.control_windows(verb, name, ctx)
    if sys.platform == "darwin":
        return services_other.control_macos(verb, name, ctx)
    if SYSTEMD_MARKER.is_dir():
        return ctx.run(["systemctl", verb, "--", name], timeout=120, stream=True)
    return ctx.run(["service", name, verb], timeout=120, stream=True)


ACTIONS = service_actions(status, _run_control)
