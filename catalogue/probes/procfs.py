"""Linux /proc files and the small tools beside them (ip -j, who), read as text."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from typing import Any

MEMINFO_PATH = "/proc/meminfo"
STAT_PATH = "/proc/stat"
LOADAVG_PATH = "/proc/loadavg"
UPTIME_PATH = "/proc/uptime"
NET_DEV_PATH = "/proc/net/dev"
IP_ADDR_ARGV = ["ip", "-j", "addr", "show"]
WHO_ARGV = ["who"]
_FAMILIES = {"inet": "ipv4", "inet6": "ipv6"}


def parse_meminfo(text: str) -> dict[str, Any]:
    """The memory section from /proc/meminfo, in bytes, with psutil's arithmetic."""
    kib = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        words = rest.split()
        if words and words[0].isdigit():
            kib[key.strip()] = int(words[0]) * 1024
    total = kib.get("MemTotal", 0)
    free = kib.get("MemFree", 0)
    available = kib.get("MemAvailable", free)
    cached = kib.get("Cached", 0) + kib.get("SReclaimable", 0)
    used = total - free - kib.get("Buffers", 0) - cached
    swap_total, swap_free = kib.get("SwapTotal", 0), kib.get("SwapFree", 0)
    return {
        "total": total,
        "available": available,
        "used": used if used >= 0 else total - free,
        "percent": round(100 * (total - available) / total, 1) if total else 0.0,
        "swap_total": swap_total,
        "swap_used": swap_total - swap_free,
        "swap_free": swap_free,
    }


def parse_cpu_times(text: str) -> tuple[int, int]:
    """(busy, total) jiffies from /proc/stat's aggregate "cpu" line."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(value) for value in fields[1:]]
            idle = sum(ticks[3:5])  # idle and iowait
            total = sum(ticks[:8])  # guest time is already inside user and nice
            return total - idle, total
    return 0, 0


def usage_percent(first: tuple[int, int], second: tuple[int, int]) -> float | None:
    """CPU use between two /proc/stat readings; None when no time passed between them."""
    busy, total = second[0] - first[0], second[1] - first[1]
    return round(100 * busy / total, 1) if total > 0 else None


def parse_boot_time(text: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return None


def parse_loadavg(text: str) -> list[float]:
    return [float(value) for value in text.split()[:3]]


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """Counters per interface, named as psutil names them."""
    counters = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        values = [int(value) for value in rest.split()]
        if len(values) >= 12:
            counters[name.strip()] = {
                "bytes_recv": values[0],
                "packets_recv": values[1],
                "errors_in": values[2],
                "drops_in": values[3],
                "bytes_sent": values[8],
                "packets_sent": values[9],
                "errors_out": values[10],
                "drops_out": values[11],
            }
    return counters


def _netmask(family: str, prefix: int) -> str:
    network = ipaddress.IPv6Network if family == "inet6" else ipaddress.IPv4Network
    return str(network((0, prefix)).netmask)


def parse_ip_addr(text: str, counters: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Interfaces from `ip -j addr show`, in the agent's shape, sorted by name."""
    interfaces = []
    for link in json.loads(text or "[]"):
        addresses = [
            {
                "family": _FAMILIES[info["family"]],
                "address": info["local"],
                "netmask": _netmask(info["family"], int(info["prefixlen"])),
            }
            for info in link.get("addr_info", [])
            if info.get("family") in _FAMILIES and "local" in info
        ]
        io = counters.get(link["ifname"], {})
        interfaces.append(
            {
                "name": link["ifname"],
                "mac": link.get("address"),
                "addresses": addresses,
                "is_up": "UP" in link.get("flags", []),
                "speed_mbps": None,  # only sysfs knows it, one file per interface
                "mtu": link.get("mtu"),
                **{key: io.get(key) for key in _COUNTERS},
            }
        )
    return sorted(interfaces, key=lambda i: str(i["name"]))


_COUNTERS = (
    "bytes_sent", "bytes_recv", "packets_sent", "packets_recv",
    "errors_in", "errors_out", "drops_in", "drops_out",
)  # fmt: skip


def parse_who(text: str, utc_offset: str = "+0000") -> list[dict[str, Any]]:
    """Sessions from `who` (C locale: NAME LINE YYYY-MM-DD HH:MM [(HOST)]).

    who prints the endpoint's local time; utc_offset is its `date +%z`.
    """
    sign = -1 if utc_offset.startswith("-") else 1
    digits = utc_offset.lstrip("+-")
    zone = dt.timezone(
        sign * dt.timedelta(hours=int(digits[:2] or 0), minutes=int(digits[2:] or 0))
    )
    sessions = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            started = dt.datetime.strptime(f"{fields[2]} {fields[3]}", "%Y-%m-%d %H:%M")
        except ValueError:
            continue
        host = fields[4].strip("()") if len(fields) > 4 else None
        sessions.append(
            {
                "name": fields[0],
                "terminal": fields[1],
                "host": host or None,
                "started": started.replace(tzinfo=zone).timestamp(),
            }
        )
    return sessions
