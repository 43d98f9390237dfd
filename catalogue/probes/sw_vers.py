"""macOS product name and version from ``sw_vers``."""

from __future__ import annotations

from typing import Any

ARGV = ["sw_vers"]


def parse_sw_vers(text: str) -> dict[str, Any] | None:
    """Return {name, pretty_name, version, build, id} or None without a ProductName."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    name = fields.get("ProductName")
    if not name:
        return None
    version = fields.get("ProductVersion") or None
    return {
        "name": name,
        "pretty_name": f"{name} {version}" if version else name,
        "version": version,
        "build": fields.get("BuildVersion") or None,
        "id": "macos",
    }
