"""service.* on Windows (the service control manager) and macOS (launchd).

Each platform has a command builder and a pure parser, so the parsers are tested on
recorded outputs. Neither has been run against a real Windows or macOS machine.

Windows: the name never goes into the script text. The script is a fixed scriptblock
with ``param($n)`` and the name follows as its own argument. ``powershell.exe -Command``
joins its remaining arguments into the command it parses, so that argument is written
as a single-quoted PowerShell literal: parsing it gives back exactly the name, whatever
it holds (the catalogue already refuses quotes, spaces and ``$`` in service names).

macOS: only the system domain (LaunchDaemons) is handled, addressed as
``system/<label>``; per-user agents (``gui/<uid>``) are not. Stop sends SIGTERM with
``launchctl kill`` rather than ``launchctl bootout``: bootout would unload the job,
which a later start (``kickstart``) could not undo. A job marked KeepAlive is
restarted by launchd after the signal, and the stop then fails with ``not_stopped``,
which is the truth.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from agent.actions.context import ActionContext
from catalogue.probes.windows_scm import WIN_NOT_FOUND_EXIT, parse_windows_status

# --- Windows -----------------------------------------------------------------------------

_WIN_PROLOGUE = "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; "
_WIN_STATUS_SCRIPT = (
    "& { param($n) "
    + _WIN_PROLOGUE
    + "$s = Get-Service -Name $n -ErrorAction SilentlyContinue | Select-Object -First 1; "
    f"if ($null -eq $s) {{ exit {WIN_NOT_FOUND_EXIT} }}; "
    "$p = (Get-CimInstance Win32_Service | Where-Object Name -eq $s.Name).ProcessId; "
    "$s | Select-Object Name,Status,StartType,@{Name='ProcessId';Expression={$p}}"
    " | ConvertTo-Json }"
)
# Without -Force: a service others depend on is not stopped (nor restarted) behind
# their back; the command fails and says so.
_WIN_CMDLETS = {"start": "Start-Service", "stop": "Stop-Service", "restart": "Restart-Service"}


def _ps_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def powershell_with_name(script: str, name: str) -> list[str]:
    return [
        "powershell.exe",
        "-NoProfile",
        "-NonInteractive",
        "-Command",
        script,
        _ps_literal(name),
    ]


def windows_status_argv(name: str) -> list[str]:
    return powershell_with_name(_WIN_STATUS_SCRIPT, name)


def windows_control_argv(verb: str, name: str) -> list[str]:
    script = (
        "& { param($n) " + _WIN_PROLOGUE + "$ErrorActionPreference = 'Stop'; "
        f"{_WIN_CMDLETS[verb]} -Name $n }}"
    )
    return powershell_with_name(script, name)


def status_windows(name: str, ctx: ActionContext) -> dict[str, Any]:
    done = ctx.run(windows_status_argv(name))
    return parse_windows_status(name, done.stdout, done.stderr, done.returncode)


def control_windows(verb: str, name: str, ctx: ActionContext) -> subprocess.CompletedProcess[str]:
    """Start-Service and Stop-Service wait for the service to settle before returning."""
    return ctx.run(windows_control_argv(verb, name), timeout=120, stream=True)


# --- macOS -------------------------------------------------------------------------------

# launchctl's exit status for "Could not find service" (EX_* 113 in launchctl's table).
MAC_NOT_FOUND_EXIT = 113
_MAC_STATE = {"running": "running", "not running": "stopped", "waiting": "stopped"}
MAC_SETTLE_SECONDS = 10.0
_MAC_POLL_SECONDS = 0.5


def _target(label: str) -> str:
    return f"system/{label}"


def macos_status_argv(label: str) -> list[str]:
    return ["launchctl", "print", _target(label)]


def macos_control_argv(verb: str, label: str) -> list[str]:
    if verb == "start":
        return ["launchctl", "kickstart", _target(label)]
    if verb == "restart":
        return ["launchctl", "kickstart", "-k", _target(label)]
    if verb == "stop":
        return ["launchctl", "kill", "SIGTERM", _target(label)]
    raise ValueError(f"unknown verb {verb}")


def _top_level(text: str) -> dict[str, str]:
    """``key = value`` lines directly inside the outer block (nested blocks such as
    ``resource coalition`` have their own ``state =``, which must not win)."""
    found: dict[str, str] = {}
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "}":
            depth -= 1
            continue
        if stripped.endswith("{"):
            depth += 1
            continue
        if depth == 1 and " = " in stripped:
            key, value = stripped.split(" = ", 1)
            found.setdefault(key.strip(), value.strip())
    return found


def parse_launchctl_print(label: str, stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    """Read ``launchctl print system/<label>``: its top-level ``state`` and ``pid``."""
    if returncode != 0 and (
        returncode == MAC_NOT_FOUND_EXIT or "Could not find service" in stdout + stderr
    ):
        return {"name": label, "manager": "launchd", "state": "not_found", "pid": None}
    props = _top_level(stdout)
    raw = props.get("state")
    if returncode != 0 or raw is None:
        return {
            "name": label,
            "manager": "launchd",
            "state": "unknown",
            "pid": None,
            "error": (stderr.strip() or f"launchctl exited with {returncode}")[:500],
        }
    state = _MAC_STATE.get(raw, "unknown")
    pid_text = props.get("pid", "")
    pid = int(pid_text) if pid_text.isdigit() and state == "running" else None
    return {
        "name": label,
        "manager": "launchd",
        "state": state,
        "pid": pid or None,
        "sub_state": raw,
        "last_exit_code": props.get("last exit code"),
    }


def status_macos(label: str, ctx: ActionContext) -> dict[str, Any]:
    done = ctx.run(macos_status_argv(label))
    return parse_launchctl_print(label, done.stdout, done.stderr, done.returncode)


def control_macos(verb: str, label: str, ctx: ActionContext) -> subprocess.CompletedProcess[str]:
    """Run the launchctl command, then wait a little for launchd to settle.

    launchctl returns once it has asked: the job may still be spawning, or handling
    SIGTERM, when the caller reads the state afterwards. Stopping a job that is not
    running sends nothing (``launchctl kill`` would fail on it).
    """
    wanted = "stopped" if verb == "stop" else "running"
    if verb == "stop" and status_macos(label, ctx)["state"] != "running":
        argv = macos_control_argv(verb, label)
        return subprocess.CompletedProcess(argv, 0, "not running: no signal sent\n", "")
    done = ctx.run(macos_control_argv(verb, label), timeout=120, stream=True)
    if done.returncode != 0:
        return done
    deadline = time.monotonic() + MAC_SETTLE_SECONDS
    while not ctx.stopped and time.monotonic() < deadline:
        if status_macos(label, ctx)["state"] == wanted:
            break
        time.sleep(_MAC_POLL_SECONDS)
    return done
