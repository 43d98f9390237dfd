"""CPU model on macOS from ``sysctl``."""

from __future__ import annotations

ARGV = ["sysctl", "-n", "machdep.cpu.brand_string"]


def parse_brand_string(text: str) -> str | None:
    """Return the brand string ("Apple M2 Pro"), or None when empty."""
    return text.strip() or None
