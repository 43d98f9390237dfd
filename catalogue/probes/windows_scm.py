"""One Windows service's state from Get-Service, as service.status reports it.

Shared by the agent (agent/actions/services_other.py runs the script locally) and the
controller's WinRM transport (which runs its own script remotely): both print one
Get-Service row as ConvertTo-Json, or exit with WIN_NOT_FOUND_EXIT when no service has
the name, and read the answer with parse_windows_status.
"""

from __future__ import annotations

from typing import Any

from catalogue.probes.powershell import as_str, load_json_rows

# ServiceControllerStatus and ServiceStartMode: Windows PowerShell 5.1's ConvertTo-Json
# writes enums as these numbers; names are accepted too (pwsh -EnumsAsStrings, or a
# script that casts them to [string]).
_WIN_STATUS = {
    1: "Stopped",
    2: "StartPending",
    3: "StopPending",
    4: "Running",
    5: "ContinuePending",
    6: "PausePending",
    7: "Paused",
}
_WIN_START = {0: "Boot", 1: "System", 2: "Automatic", 3: "Manual", 4: "Disabled"}
# Paused and pending states are neither: the raw status stays in sub_state.
_WIN_STATE = {"Running": "running", "Stopped": "stopped"}
# The status script exits with this when no service has the name.
WIN_NOT_FOUND_EXIT = 3


def _enum_name(value: Any, names: dict[int, str]) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return names.get(value, str(value))
    text = as_str(value)
    if text is not None and text.isdigit():
        return names.get(int(text), text)
    return text


def parse_windows_status(name: str, stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    """Read the status script's output: one Get-Service row as JSON, or its not-found exit."""
    if returncode == WIN_NOT_FOUND_EXIT:
        return {"name": name, "manager": "scm", "state": "not_found", "pid": None}
    rows = load_json_rows(stdout)
    if not rows:
        return {
            "name": name,
            "manager": "scm",
            "state": "unknown",
            "pid": None,
            "error": (stderr.strip() or f"powershell exited with {returncode}")[:500],
        }
    row = rows[0]
    raw = _enum_name(row.get("Status"), _WIN_STATUS)
    pid = row.get("ProcessId")
    return {
        "name": as_str(row.get("Name")) or name,
        "manager": "scm",
        "state": _WIN_STATE.get(raw or "", "unknown"),
        "pid": pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None,
        "sub_state": raw,
        "start_type": _enum_name(row.get("StartType"), _WIN_START),
    }
