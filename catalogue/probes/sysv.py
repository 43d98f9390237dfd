"""SysV init services: ``service --status-all`` plus the scripts in /etc/init.d."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

INIT_DIR = "/etc/init.d"
ARGV = ["service", "--status-all"]

_LINE = re.compile(r"^\s*\[\s*([+?-])\s*\]\s+(\S+)\s*$")
_STATES = {"+": "running", "-": "stopped", "?": "unknown"}
# Entries of /etc/init.d that are not services; mirrors what `service` skips.
_NOT_SERVICES = frozenset(
    {"README", "skeleton", "functions", "halt", "killall", "single", "rc", "rcS", "linuxconf"}
)
# `service NAME status` exits as LSB says: 0 running, 1-3 dead or stopped, 4 unknown.
_LSB_STATES = {0: "running", 1: "stopped", 2: "stopped", 3: "stopped"}
_BACKUP_SUFFIXES = (".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-bak", ".rpmnew", ".rpmsave", "~")


def parse_status_all(text: str) -> list[dict[str, Any]]:
    """Parse lines like `` [ + ]  cron`` into {name, state}."""
    items: list[dict[str, Any]] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            items.append({"name": match.group(2), "state": _STATES[match.group(1)]})
    return items


def is_service_script(name: str) -> bool:
    """Tell whether an /etc/init.d entry name is a service script."""
    return (
        name not in _NOT_SERVICES
        and not name.startswith(".")
        and not name.endswith(_BACKUP_SUFFIXES)
    )


def merge_scripts(items: list[dict[str, Any]], scripts: Iterable[str]) -> list[dict[str, Any]]:
    """Add init scripts missing from ``items`` with an unknown state, sorted by name.

    `service --status-all` writes its "[ ? ]" lines to stderr, which the probe
    does not keep, and is absent on some minimal systems; the script listing
    fills both gaps.
    """
    merged = {item["name"]: item for item in items}
    for name in scripts:
        if is_service_script(name):
            merged.setdefault(name, {"name": name, "state": "unknown"})
    return sorted(merged.values(), key=lambda item: str(item["name"]))


def status_state(returncode: int) -> str:
    """running, stopped or unknown, from the exit status of ``service NAME status``."""
    return _LSB_STATES.get(returncode, "unknown")
