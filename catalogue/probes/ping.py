"""ping: the command line per OS, and counts and round-trip times from what it prints."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

_UNIX_SENT = re.compile(r"(\d+) packets transmitted")
_UNIX_RECEIVED = re.compile(r"(\d+) (?:packets )?received")
_UNIX_LOSS = re.compile(r"([\d.]+)% packet loss")
_UNIX_RTT = re.compile(r"(?:rtt|round-trip) min/avg/max\S* = ([\d.]+)/([\d.]+)/([\d.]+)")
_UNIX_HEADER = re.compile(r"^PING\s+\S+?\s*\(([^)]+)\)", re.MULTILINE)
# Windows prints in the UI language, so these look for shapes, never for words:
# "Sent = 4, Received = 4, Lost = 0 (0% loss)" / "Gesendet = 4, Empfangen = 4, Verloren = 0".
_WIN_COUNTS = re.compile(r"=\s*(\d+),[^=\n]*=\s*(\d+),[^=\n]*=\s*(\d+)")
_WIN_TIME = re.compile(r"[=<]\s*(\d+)\s*ms", re.IGNORECASE)
_TROUBLE = re.compile(
    r"unreachable|no route|timed out|timeout|expired|failure|prohibited", re.IGNORECASE
)
_PING_FIELDS = ("address", "sent", "received", "loss_percent", "rtt_min_ms", "rtt_avg_ms")


def ping_argv(platform: str, host: str, count: int, timeout_s: float) -> list[str]:
    """The system ping's command line; platform is a sys.platform value."""
    wait = max(1, math.ceil(timeout_s))
    if platform == "win32":  # -w is the wait for each reply, in milliseconds
        return ["ping", "-n", str(count), "-w", str(int(timeout_s * 1000)), host]
    if platform == "darwin":
        if ":" in host:  # macOS ping is IPv4 only; ping6 has no deadline option
            return ["ping6", "-c", str(count), "-n", host]
        # -t is a deadline for the whole run: one second per echo, then the wait for the last
        return ["ping", "-c", str(count), "-t", str(count - 1 + wait), "-n", host]
    return ["ping", "-c", str(count), "-W", str(wait), "-n", host]  # iputils, busybox


def first_ip(line: str) -> str | None:
    for token in line.split():
        bare = token.strip("[](),")
        for candidate in (bare, bare.removesuffix(":")):  # "from ::1:" and "fe80::"
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                continue
    return None


def _ms(value: str) -> float:
    return round(float(value), 3)


def _parse_unix(text: str, found: dict[str, Any]) -> None:
    header = _UNIX_HEADER.search(text)
    found["address"] = header.group(1).strip() if header else None
    sent, received = _UNIX_SENT.search(text), _UNIX_RECEIVED.search(text)
    found["sent"] = int(sent.group(1)) if sent else None
    found["received"] = int(received.group(1)) if received else 0
    loss = _UNIX_LOSS.search(text)
    found["loss_percent"] = round(float(loss.group(1)), 1) if loss else None
    rtt = _UNIX_RTT.search(text)
    if rtt:
        found["rtt_min_ms"], found["rtt_avg_ms"], found["rtt_max_ms"] = map(_ms, rtt.groups())


def _parse_windows(text: str, found: dict[str, Any]) -> None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    replies = [line for line in lines if "," not in line and _WIN_TIME.search(line)]
    found["address"] = first_ip(lines[0]) if lines else None
    if found["address"] is None and replies:
        found["address"] = first_ip(replies[0])
    counts = next((m for m in map(_WIN_COUNTS.search, lines) if m), None)
    rtt_line = next((line for line in lines if len(_WIN_TIME.findall(line)) == 3), None)
    found["sent"] = int(counts.group(1)) if counts else None
    stated = int(counts.group(2)) if counts else 0
    # "Reply from <router>: Destination host unreachable." counts as received on Windows:
    # only replies with a round-trip time are echoes.
    found["received"] = len(replies) if replies or rtt_line is None else stated
    if found["sent"]:
        lost = found["sent"] - found["received"]
        found["loss_percent"] = round(100 * lost / found["sent"], 1)
    if rtt_line:  # Minimum, Maximum, Average: in that order in every language
        low, high, mean = map(float, _WIN_TIME.findall(rtt_line))
        found["rtt_min_ms"], found["rtt_avg_ms"], found["rtt_max_ms"] = low, mean, high


def parse_ping(stdout: str, stderr: str = "") -> dict[str, Any]:
    """Counts and round-trip times from any of the pings ping_argv runs.

    Returns {address, sent, received, loss_percent, rtt_min_ms, rtt_avg_ms, rtt_max_ms,
    error}; what the output does not say is None. error says why nothing came back.
    """
    found: dict[str, Any] = dict.fromkeys((*_PING_FIELDS, "rtt_max_ms", "error"))
    if "packets transmitted" in stdout:
        _parse_unix(stdout, found)
    else:
        _parse_windows(stdout, found)
    if not found["received"]:
        said = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
        trouble = [line for line in said if _TROUBLE.search(line)]
        if trouble:
            found["error"] = trouble[0]
        elif found["sent"] is None and said:
            found["error"] = said[0]
        else:
            found["error"] = "no reply"
    return found
