"""The agent's copy of its check set: checks.json in the state directory.

Written atomically whenever the controller sends a new set, read at start, so checks keep
running across restarts and while the controller cannot be reached. Plain JSON, no
catalogue: an agent without checks loads nothing more than this.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.state import write_file
from protos.deskside.v1 import agent_pb2

log = logging.getLogger(__name__)
CHECKS_FILE = "checks.json"


@dataclass(frozen=True)
class Definition:
    id: int
    name: str
    check: str
    params: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    interval_s: int = 0
    cron: str = ""
    version: int = 0


def _object(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw) if raw else {}
    return value if isinstance(value, dict) else {}


def from_message(message: agent_pb2.CheckSet) -> list[Definition]:
    found = []
    for d in message.checks:
        try:
            params, thresholds = _object(d.params_json), _object(d.thresholds_json)
        except ValueError:
            log.error("check %d (%s) came with unreadable JSON; ignored", d.id, d.name)
            continue
        found.append(
            Definition(
                id=d.id,
                name=d.name,
                check=d.check,
                params=params,
                thresholds=thresholds,
                interval_s=d.interval_s,
                cron=d.cron,
                version=d.version,
            )
        )
    return found


def save(state_dir: Path, definitions: list[Definition]) -> None:
    text = json.dumps({"checks": [asdict(d) for d in definitions]}, sort_keys=True, indent=1)
    write_file(state_dir / CHECKS_FILE, text.encode(), 0o600)


def load(state_dir: Path) -> list[Definition]:
    """The stored set; an unreadable file counts as none (the controller sends it again)."""
    try:
        data = json.loads((state_dir / CHECKS_FILE).read_bytes())
        return [Definition(**entry) for entry in data["checks"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("cannot read %s: %s; waiting for the controller's set", CHECKS_FILE, exc)
        return []
