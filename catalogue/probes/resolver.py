"""Resolver caches: which commands flush them, given what a machine has and runs."""

from __future__ import annotations

from collections.abc import Callable


def flush_commands(
    platform: str,
    which: Callable[[str], str | None],
    running: Callable[[str], bool],
) -> list[list[str]]:
    """The commands that flush this machine's resolver caches; [] when it has none."""
    if platform == "win32":
        return [["ipconfig", "/flushdns"]]
    if platform == "darwin":
        return [["dscacheutil", "-flushcache"], ["killall", "-HUP", "mDNSResponder"]]
    commands = []
    if running("systemd-resolved"):
        if which("resolvectl"):
            commands.append(["resolvectl", "flush-caches"])
        elif which("systemd-resolve"):  # before systemd 239
            commands.append(["systemd-resolve", "--flush-caches"])
    if running("nscd") and which("nscd"):
        commands.append(["nscd", "-i", "hosts"])
    return commands
