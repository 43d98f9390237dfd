"""Parse the CPU model name out of Linux /proc/cpuinfo."""

from __future__ import annotations

PATH = "/proc/cpuinfo"

# x86 has "model name"; ARM boards often only name the board ("Model") or the
# SoC ("Hardware"); MIPS uses "cpu model". First match wins.
_MODEL_KEYS = ("model name", "Model", "Hardware", "cpu model", "Processor")


def parse_cpu_model(text: str) -> str | None:
    """Return the CPU model name, or None when the file names none."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if sep and value and key not in found:
            found[key] = value
    for key in _MODEL_KEYS:
        if key in found:
            return found[key]
    return None
