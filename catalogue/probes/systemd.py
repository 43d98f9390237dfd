"""systemd services from ``systemctl list-units``."""

from __future__ import annotations

from typing import Any

# systemd creates this directory at boot; its presence is the documented way
# (sd_booted(3)) to tell that systemd is the running init.
RUNTIME_DIR = "/run/systemd/system"
ARGV = [
    "systemctl",
    "list-units",
    "--type=service",
    "--all",
    "--no-legend",
    "--no-pager",
    "--plain",
]
# `systemctl show SHOW_PROPERTIES -- NAME` answers one service's state (parse_show).
SHOW_PROPERTIES = "--property=LoadState,ActiveState,SubState,MainPID"


def _state(active: str, sub: str) -> str:
    if sub == "running":
        return "running"
    if active in ("inactive", "failed") or sub in ("dead", "exited", "failed"):
        return "stopped"
    # activating, deactivating, reloading, auto-restart: in transition.
    return "unknown"


def parse_list_units(text: str) -> list[dict[str, Any]]:
    """Parse ``UNIT LOAD ACTIVE SUB DESCRIPTION`` rows into service items.

    Each item is {name, state, load, active, sub, description}; the name
    drops the ".service" suffix. A oneshot unit that ran and exited is
    "stopped": no process of it is running, whatever systemd calls it.
    """
    items: list[dict[str, Any]] = []
    for line in text.splitlines():
        # Without --plain, failed units carry a "●" marker in front.
        fields = line.lstrip("●* ").split(None, 4)
        if len(fields) < 4 or not fields[0].endswith(".service"):
            continue
        unit, load, active, sub = fields[:4]
        items.append(
            {
                "name": unit.removesuffix(".service"),
                "state": _state(active, sub),
                "load": load,
                "active": active,
                "sub": sub,
                "description": fields[4].strip() if len(fields) > 4 else "",
            }
        )
    return items


def parse_show(name: str, text: str) -> dict[str, Any]:
    """One service's {name, manager, state, pid, sub_state} from ``systemctl show`` output."""
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if props.get("LoadState") == "not-found":
        return {"name": name, "manager": "systemd", "state": "not_found", "pid": None}
    return {
        "name": name,
        "manager": "systemd",
        "state": "running" if props.get("ActiveState") == "active" else "stopped",
        "pid": int(props.get("MainPID", "0") or 0) or None,
        "sub_state": props.get("SubState"),
    }
