"""service.status / start / stop / restart: systemd where it is PID 1, SysV init otherwise."""

from __future__ import annotations

from typing import Any

from catalogue.outcomes.services import actions as service_actions
from catalogue.probes import systemd, sysv
from controller.transports.base import Completed, RemoteContext

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


def status(name: str, ctx: RemoteContext) -> dict[str, Any]:
    if manager(ctx) == "systemd":
        shown = ctx.run(["systemctl", "show", systemd.SHOW_PROPERTIES, "--", name], timeout=30)
        return systemd.parse_show(name, shown.stdout)
    script = f"{sysv.INIT_DIR}/{name}"  # ServiceName admits no '/': the path stays inside
    if ctx.run(["test", "-f", script], timeout=15).returncode != 0:
        return {"name": name, "manager": "sysv", "state": "not_found", "pid": None}
    checked = ctx.run(["service", name, "status"], timeout=60)
    state = sysv.status_state(checked.returncode)
    pid = _live_pid(ctx, name) if state == "running" else None
    return {"name": name, "manager": "sysv", "state": state, "pid": pid}


def _command(verb: str, name: str, ctx: RemoteContext) -> Completed:
    if manager(ctx) == "systemd":
        done = ctx.run(["systemctl", verb, "--", name], timeout=CONTROL_TIMEOUT_S)
    else:
        done = ctx.run(["service", name, verb], timeout=CONTROL_TIMEOUT_S)
    ctx.emit(done.stdout + done.stderr)
    return done


ACTIONS = service_actions(status, _command)
