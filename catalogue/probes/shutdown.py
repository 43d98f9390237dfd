"""shutdown(8): the command line that reboots a machine, per OS."""

from __future__ import annotations

import sys


def reboot_argv(delay_s: int, message: str, platform: str = sys.platform) -> list[str]:
    if platform == "win32":
        return ["shutdown", "/r", "/t", str(delay_s), "/c", message[:512]]
    minutes = max(0, (delay_s + 59) // 60)  # shutdown(8) on Linux and macOS counts minutes
    return ["shutdown", "-r", f"+{minutes}", message]
