"""Per-OS sources of inventory facts; ``current()`` picks the one for this machine."""

from __future__ import annotations

import sys

from agent.inventory.platforms.base import GENERIC, Platform
from agent.inventory.platforms.linux import LINUX
from agent.inventory.platforms.macos import MACOS
from agent.inventory.platforms.windows import WINDOWS


def current() -> Platform:
    """Return the probes for the running OS, or runtime-only fallbacks for others."""
    if sys.platform.startswith("linux"):
        return LINUX
    if sys.platform == "win32":
        return WINDOWS
    if sys.platform == "darwin":
        return MACOS
    return GENERIC


__all__ = ["Platform", "current"]
