"""Installed Windows programs from the registry Uninstall keys (what "Apps" lists)."""

from __future__ import annotations

from typing import Any

from catalogue.probes.powershell import as_str, load_json_rows, powershell_argv

# 64-bit, 32-bit-on-64-bit and per-user installs live under separate keys.
_UNINSTALL_KEYS = ",".join(
    f"'{hive}\\Software\\{node}Microsoft\\Windows\\CurrentVersion\\Uninstall\\*'"
    for hive, node in (("HKLM:", ""), ("HKLM:", "WOW6432Node\\"), ("HKCU:", ""))
)
ARGV = powershell_argv(
    f"Get-ItemProperty -Path {_UNINSTALL_KEYS}"
    " | Where-Object { $_.DisplayName -and $_.SystemComponent -ne 1 }"
    " | Select-Object DisplayName,DisplayVersion,Publisher,InstallDate"
    " | ConvertTo-Json"
)


def parse_uninstall_entries(text: str) -> list[dict[str, Any]] | None:
    """Return {name, version, publisher, install_date} sorted by name.

    The same program often appears under several keys (per-user and machine,
    or an MSI and its bootstrapper); entries with equal name and version are
    reported once. install_date stays in the registry's YYYYMMDD form.
    """
    rows = load_json_rows(text)
    if rows is None:
        return None
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for row in rows:
        name = as_str(row.get("DisplayName"))
        if name is None:
            continue
        version = as_str(row.get("DisplayVersion"))
        seen.setdefault(
            (name, version),
            {
                "name": name,
                "version": version,
                "publisher": as_str(row.get("Publisher")),
                "install_date": as_str(row.get("InstallDate")),
            },
        )
    return sorted(seen.values(), key=lambda p: (str(p["name"]).lower(), p["version"] or ""))
