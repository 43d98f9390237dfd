"""Windows edition and version from the Win32_OperatingSystem CIM class."""

from __future__ import annotations

from typing import Any

from catalogue.probes.powershell import as_str, load_json_rows, powershell_argv

ARGV = powershell_argv(
    "Get-CimInstance Win32_OperatingSystem"
    " | Select-Object Caption,Version,BuildNumber,OSArchitecture,CSName"
    " | ConvertTo-Json"
)


def parse_win32_os(text: str) -> dict[str, Any] | None:
    """Return {name, pretty_name, version, build, id} or None if unreadable."""
    rows = load_json_rows(text)
    if not rows:
        return None
    row = rows[0]
    return {
        "name": "Windows",
        "pretty_name": as_str(row.get("Caption")),
        "version": as_str(row.get("Version")),
        "build": as_str(row.get("BuildNumber")),
        "id": "windows",
    }
