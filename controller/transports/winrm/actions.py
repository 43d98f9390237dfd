"""service.* and process.* over WinRM, and the table of every WinRM action.

Results have the agent's shapes (agent/actions/services.py, processes.py). Windows has no
signals: process.kill always ends the process with Stop-Process, whatever signal was asked,
and says so.
"""

from __future__ import annotations

from typing import Any

from catalogue import ActionResult, Evidence
from catalogue.outcomes.processes import killed, listing, named
from catalogue.outcomes.services import actions as service_actions
from catalogue.probes.windows_scm import parse_windows_status
from controller.transports.base import Completed, RemoteAction, RemoteContext
from controller.transports.winrm import actions_files, actions_net
from controller.transports.winrm.common import (
    EPOCH_FN,
    NOT_FOUND,
    as_list,
    json_answer,
    run_script,
    script_failure,
    unparsable,
)

# --- service.* ------------------------------------------------------------------------------

# Get-Service -Name takes wildcards; the catalogue's service names hold none.
_STATUS = (
    "$s = Get-Service -Name $P.name -ErrorAction SilentlyContinue | Select-Object -First 1\n"
    f"if ($null -eq $s) {{ exit {NOT_FOUND} }}\n"
    "$p = (Get-CimInstance Win32_Service | Where-Object Name -eq $s.Name).ProcessId\n"
    "$s | Select-Object Name,Status,StartType,@{Name='ProcessId';Expression={$p}}"
    " | ConvertTo-Json\n"
)
# Without -Force: a service others depend on is not stopped (nor restarted) behind their
# back; the cmdlet fails and says so. The cmdlets wait for the service to settle.
_CONTROL = {
    "start": "Start-Service -Name $P.name\n",
    "stop": "Stop-Service -Name $P.name\n",
    "restart": "Restart-Service -Name $P.name\n",
}
_CONTROL_TIMEOUT_S = 120.0


def _status(name: str, ctx: RemoteContext) -> dict[str, Any]:
    done = run_script(ctx, _STATUS, {"name": name})
    return parse_windows_status(name, done.stdout, done.stderr, done.returncode)


def _control(verb: str, name: str, ctx: RemoteContext) -> Completed:
    return run_script(ctx, _CONTROL[verb], {"name": name}, _CONTROL_TIMEOUT_S)


# --- process.list -----------------------------------------------------------------------------

# CPU use is a rate: two samples of each process's CPU time, SAMPLE_MS apart. Owners need
# -IncludeUserName, which needs elevation; without it they stay null.
_SAMPLE_MS = 300
PROCESS_LIST = (
    EPOCH_FN + "$first = @{}; Get-Process | ForEach-Object { $first[$_.Id] = $_.CPU }\n"
    "$clock = [Diagnostics.Stopwatch]::StartNew()\n"
    f"Start-Sleep -Milliseconds {_SAMPLE_MS}\n"
    "try { $now = Get-Process -IncludeUserName } catch { $now = Get-Process }\n"
    "$seconds = $clock.Elapsed.TotalSeconds\n"
    "$cim = @{}; Get-CimInstance Win32_Process | ForEach-Object { $cim[[int]$_.ProcessId] = $_ }\n"
    "$rows = foreach ($p in $now) { $c = $cim[$p.Id]; [pscustomobject]@{\n"
    "  pid = $p.Id; name = $(if ($c) { $c.Name } else { $p.ProcessName })\n"
    "  user = $p.UserName; cmdline = $(if ($c) { $c.CommandLine })\n"
    "  rss = $p.WorkingSet64; started = Epoch $p.StartTime\n"
    "  cpu_before = $first[$p.Id]; cpu_after = $p.CPU } }\n"
    "[pscustomobject]@{ seconds = $seconds; processes = @($rows) }"
    " | ConvertTo-Json -Depth 3 -Compress\n"
)


def _cpu_percent(row: dict[str, Any], seconds: float) -> float:
    before, after = row.get("cpu_before"), row.get("cpu_after")
    if not isinstance(before, int | float) or not isinstance(after, int | float) or seconds <= 0:
        return 0.0  # new since the first sample, or its times are unreadable
    return round(max(after - before, 0) / seconds * 100, 1)


def parse_process_list(answer: Any) -> list[dict[str, Any]] | None:
    """The process rows in the agent's shape, or None if the answer is not the script's."""
    if not isinstance(answer, dict) or not isinstance(answer.get("seconds"), int | float):
        return None
    rows = []
    for row in as_list(answer.get("processes")):
        if not isinstance(row, dict) or not isinstance(row.get("pid"), int):
            continue
        rows.append(
            {
                "pid": row["pid"],
                "name": row.get("name"),
                "user": row.get("user"),
                "cmdline": (row.get("cmdline") or "")[:500],
                "rss": row.get("rss"),
                "started": row.get("started"),
                "cpu_percent": _cpu_percent(row, answer["seconds"]),
            }
        )
    return rows


def process_list(params: Any, ctx: RemoteContext) -> ActionResult:
    done = run_script(ctx, PROCESS_LIST)
    if done.returncode != 0:
        return script_failure(done, "listing processes")
    found = parse_process_list(json_answer(done))
    if found is None:
        return unparsable(done, "listing processes")
    return listing(found, params)


# --- process.kill -----------------------------------------------------------------------------

# Ending one of these stops Windows (a bug check) or the WinRM session running the script.
_PROTECTED = (
    "$protected = @('System Idle Process','System','smss.exe','csrss.exe','wininit.exe',"
    "'winlogon.exe','services.exe','lsass.exe')\n"
    "$self = (Get-CimInstance Win32_Process | Where-Object ProcessId -eq $PID).ParentProcessId\n"
)
_FIND = (
    _PROTECTED + "$all = Get-CimInstance Win32_Process\n"
    "$found = @(if ($null -ne $P.pid) { $all | Where-Object ProcessId -eq $P.pid }"
    " else { $all | Where-Object Name -eq $P.name })\n"
    "$rows = foreach ($p in $found) { [pscustomobject]@{ pid = [int]$p.ProcessId;"
    " name = $p.Name; cmdline = $p.CommandLine;"
    " protected = ($protected -contains $p.Name) -or ($p.ProcessId -in @(0, 4, $PID, $self)) } }\n"
    "ConvertTo-Json -InputObject @($rows) -Compress\n"
)
# Each pid is ended only if it still has the name it had when it was found (pid reuse).
_WAIT_S = 5
_KILL = (
    "$gone = @(); $left = @(); $denied = @()\n"
    "foreach ($t in $P.targets) {\n"
    "  $c = Get-CimInstance Win32_Process | Where-Object ProcessId -eq $t.pid\n"
    "  if ($null -eq $c -or $c.Name -ne $t.name) { continue }\n"
    "  try { Stop-Process -Id $t.pid -Force; $gone += $t.pid } catch { $denied += $t.pid } }\n"
    f"foreach ($id in $gone) {{ Wait-Process -Id $id -Timeout {_WAIT_S}"
    " -ErrorAction SilentlyContinue\n"
    "  if (Get-Process -Id $id -ErrorAction SilentlyContinue) { $left += $id } }\n"
    "[pscustomobject]@{ signalled = @($gone); still_running = @($left); denied = @($denied) }"
    " | ConvertTo-Json -Compress\n"
)


def process_kill(params: Any, ctx: RemoteContext) -> ActionResult:
    done = run_script(ctx, _FIND, {"pid": params.pid, "name": params.name})
    if done.returncode != 0:
        return script_failure(done, "finding the process")
    rows = [r for r in as_list(json_answer(done)) if isinstance(r, dict)]
    if not rows:
        what = f"pid {params.pid}" if params.pid is not None else f"named {params.name}"
        return ActionResult.failure("not_found", f"no process {what}")
    if any(r.get("protected") for r in rows):
        shielded = ", ".join(f"{r['name']} ({r['pid']})" for r in rows if r.get("protected"))
        return ActionResult.failure(
            "policy_denied", f"{shielded}: protected (Windows itself, or this WinRM session)"
        )
    before = [{k: r.get(k) for k in ("pid", "name", "cmdline")} for r in rows]
    names = named(before)
    how = f"Stop-Process (Windows has no signals; SIG{params.signal} asked)"
    if ctx.dry_run:
        return ActionResult(
            output=f"would end {names} with {how}", evidence=Evidence(before=before)
        )
    done = run_script(ctx, _KILL, {"targets": before}, timeout=60.0 + _WAIT_S)
    if done.returncode != 0:
        return script_failure(done, "ending the process")
    answer = json_answer(done)
    if not isinstance(answer, dict):
        return unparsable(done, "ending the process")
    after = {k: as_list(answer.get(k)) for k in ("signalled", "still_running")}
    if as_list(answer.get("denied")):
        return ActionResult.failure(
            "permission_denied",
            f"not allowed to end pid {', '.join(map(str, as_list(answer['denied'])))}",
            evidence=Evidence(before=before, after=after),
        )
    did = f"ended {names} with {how}"
    return killed(did, before, after["signalled"], after["still_running"], _WAIT_S)


ACTIONS: dict[str, RemoteAction] = {
    **service_actions(_status, _control),
    "process.list": process_list,
    "process.kill": process_kill,
    **actions_files.ACTIONS,
    **actions_net.ACTIONS,
}
