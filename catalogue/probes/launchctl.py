"""launchd jobs from ``launchctl list``."""

from __future__ import annotations

from typing import Any

ARGV = ["launchctl", "list"]


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_launchctl_list(text: str) -> list[dict[str, Any]]:
    """Parse ``PID Status Label`` rows into {name, state, pid, last_exit_status}.

    A job with a PID is running; "-" means it is loaded but not running. A
    negative status is the signal that ended its last run.
    """
    items: list[dict[str, Any]] = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 3 or fields[0] == "PID":
            continue
        pid = _int_or_none(fields[0])
        items.append(
            {
                "name": fields[2].strip(),
                "state": "running" if pid is not None else "stopped",
                "pid": pid,
                "last_exit_status": _int_or_none(fields[1]),
            }
        )
    items.sort(key=lambda item: str(item["name"]))
    return items
