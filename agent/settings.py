"""Agent settings: DESKSIDE_AGENT_* environment variables over built-in defaults.

Deliberately plain (no pydantic): the agent's resident memory is a feature, and the
few settings it has are checked here with errors that name the variable.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    pass


def default_state_dir() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "deskside-agent"
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if sys.platform == "darwin":
        base = Path("/Library") if is_root else Path.home() / "Library"
        return base / "Application Support" / "deskside-agent"
    if is_root:
        return Path("/var/lib/deskside-agent")
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "deskside-agent"


def _number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be between {low:g} and {high:g}, got {raw}")
    return value


@dataclass(frozen=True)
class AgentSettings:
    state_dir: Path
    log_level: str
    max_backoff_s: float
    spool_max_bytes: int

    @classmethod
    def from_env(cls) -> AgentSettings:
        level = os.environ.get("DESKSIDE_AGENT_LOG_LEVEL", "info").lower()
        if level not in ("debug", "info", "warning", "error"):
            raise SettingsError(
                f"DESKSIDE_AGENT_LOG_LEVEL: one of debug, info, warning, error; got {level!r}"
            )
        state_dir = os.environ.get("DESKSIDE_AGENT_DIR")
        return cls(
            state_dir=Path(state_dir) if state_dir else default_state_dir(),
            log_level=level,
            max_backoff_s=_number("DESKSIDE_AGENT_MAX_BACKOFF_S", 60.0, 0.1, 3600),
            spool_max_bytes=int(
                _number("DESKSIDE_AGENT_SPOOL_MAX_BYTES", 64 * 2**20, 2**16, 2**34)
            ),
        )
