"""Run PowerShell snippets as probes and read their ConvertTo-Json output."""

from __future__ import annotations

import json
from typing import Any


def powershell_argv(script: str) -> list[str]:
    """Build the argument list that runs ``script`` in Windows PowerShell.

    The console code page would otherwise mangle non-ASCII names (publisher
    and service names are often localised). Errors are silenced because a
    single unreadable registry key must not cost the whole list; a probe that
    fails outright prints nothing, which the parsers report as None.
    """
    prologue = (
        "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; "
        "$ErrorActionPreference = 'SilentlyContinue'; "
    )
    return ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", prologue + script]


def load_json_rows(text: str) -> list[dict[str, Any]] | None:
    """Return ConvertTo-Json output as a list of objects, or None if unreadable.

    ConvertTo-Json writes a bare object, not a one-element array, when the
    pipeline held a single item, and may prefix a byte-order mark.
    """
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError:
        return None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return None
    return [row for row in data if isinstance(row, dict)]


def as_str(value: Any) -> str | None:
    """Return a JSON value as a stripped non-empty string, or None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def as_str_list(value: Any) -> list[str]:
    """Return a JSON value that may be a string, a list of strings or null as a list."""
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [text for text in (as_str(v) for v in values) if text]
