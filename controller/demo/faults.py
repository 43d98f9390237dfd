"""Faults for the demo's checks and playbooks to find and fix. Each touches only the demo's
own things: files in an agent's scratch dir, a process the demo starts itself."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from controller.demo.fleet import DemoAgent, Fleet

TEMP_FILES = 40
TEMP_FILE_BYTES = 256 * 1024
TEMP_AGE_S = 30 * 86400
# The disk-full-temp playbook deletes files older than this and wants the dir below
# TEMP_MAX_BYTES; the fault's files are older and far bigger together.
TEMP_OLDER_THAN_S = 86400
TEMP_MAX_BYTES = 1024 * 1024


def fill_temp_dir(agent: DemoAgent) -> dict[str, Any]:
    """A temp directory full of month-old junk, as a PC whose disk is full has."""
    temp = agent.scratch / "temp"
    temp.mkdir(exist_ok=True)
    old = time.time() - TEMP_AGE_S
    for n in range(TEMP_FILES):
        path = temp / f"~excel-autosave-{n:03}.tmp"
        path.write_bytes(os.urandom(TEMP_FILE_BYTES))
        os.utime(path, (old, old))
    return {
        "kind": "disk-full",
        "endpoint_id": agent.endpoint_id,
        "hostname": agent.hostname,
        "path": str(temp),
        "bytes": TEMP_FILES * TEMP_FILE_BYTES,
        "playbook": "disk-full-temp",
        "inputs": {
            "path": str(temp),
            "older_than_s": TEMP_OLDER_THAN_S,
            "max_bytes": TEMP_MAX_BYTES,
        },
    }


def runaway_name(agent: DemoAgent) -> str:
    # A name no real program has, short enough for the kernel's 15-character process name.
    return f"demohog{agent.index}"


def start_runaway(fleet: Fleet, agent: DemoAgent) -> dict[str, Any]:
    """A busy loop under a name of its own (a copy of sh in the scratch dir), niced so the
    demo does not starve the machine; the fleet tracks it and stops it with the rest."""
    name = runaway_name(agent)
    program = agent.scratch / name
    shutil.copyfile("/bin/sh", program)
    program.chmod(0o755)
    log = agent.scratch / f"{name}.log"
    process = fleet.spawn(
        ["nice", "-n", "10", str(program), "-c", "while :; do :; done"], dict(os.environ), log
    )
    return {
        "kind": "runaway-process",
        "endpoint_id": agent.endpoint_id,
        "hostname": agent.hostname,
        "process": name,
        "pid": process.pid,
        "playbook": "runaway-process",
        # Niced, it may get little CPU on a busy machine: any share counts as runaway.
        "inputs": {"name": name, "min_cpu": 1},
    }


def check_for(fault: dict[str, Any]) -> dict[str, Any] | None:
    """The health check that finds the fault and, for a runaway, fixes it by itself."""
    if fault["kind"] != "runaway-process":
        return None
    return {
        "name": f"No {fault['process']} on {fault['hostname']}",
        "check": "process.absent",
        "params": {"name": fault["process"]},
        "endpoint_ids": [fault["endpoint_id"]],
        "interval_s": 15,
        "playbook": fault["playbook"],
        "playbook_inputs": fault["inputs"],
        "cooldown_s": 0,
    }
