"""Installed macOS applications from ``system_profiler SPApplicationsDataType -json``."""

from __future__ import annotations

import json
from typing import Any

# system_profiler rescans every bundle on disk; tens of seconds is normal.
TIMEOUT_S = 180.0
ARGV = ["system_profiler", "SPApplicationsDataType", "-json"]
# Installing or removing an app touches this directory, which is cheaper to
# watch than re-running the scan.
WATCHED_DIR = "/Applications"


def parse_applications(text: str) -> list[dict[str, Any]] | None:
    """Return {name, version, path, obtained_from} sorted by name, or None if unreadable."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    rows = data.get("SPApplicationsDataType") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return None
    apps: list[dict[str, Any]] = []
    for row in rows:
        if not isinstance(row, dict) or not row.get("_name"):
            continue
        apps.append(
            {
                "name": str(row["_name"]),
                "version": row.get("version"),
                "path": row.get("path"),
                "obtained_from": row.get("obtained_from"),
            }
        )
    apps.sort(key=lambda app: (str(app["name"]).lower(), str(app["path"])))
    return apps
