"""Windows services from the Win32_Service CIM class."""

from __future__ import annotations

from typing import Any

from catalogue.probes.powershell import as_str, load_json_rows, powershell_argv

ARGV = powershell_argv(
    "Get-CimInstance Win32_Service"
    " | Select-Object Name,State,StartMode,DisplayName"
    " | ConvertTo-Json"
)

_STATES = {"Running": "running", "Stopped": "stopped"}


def parse_win32_service(text: str) -> list[dict[str, Any]] | None:
    """Return {name, state, start_mode, display_name} items sorted by name.

    Paused and pending states map to "unknown"; the raw CIM state is kept in
    ``status`` for those who need it.
    """
    rows = load_json_rows(text)
    if rows is None:
        return None
    items: list[dict[str, Any]] = []
    for row in rows:
        name = as_str(row.get("Name"))
        if name is None:
            continue
        status = as_str(row.get("State"))
        items.append(
            {
                "name": name,
                "state": _STATES.get(status or "", "unknown"),
                "status": status,
                "start_mode": as_str(row.get("StartMode")),
                "display_name": as_str(row.get("DisplayName")),
            }
        )
    items.sort(key=lambda item: str(item["name"]).lower())
    return items
