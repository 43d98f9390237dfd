"""Default gateway and DNS servers on macOS, from ``route`` and ``scutil``."""

from __future__ import annotations

import re

ROUTE_ARGV = ["route", "-n", "get", "default"]
SCUTIL_DNS_ARGV = ["scutil", "--dns"]

_NAMESERVER = re.compile(r"^\s*nameserver\[\d+\]\s*:\s*(\S+)")


def parse_route_get(text: str) -> str | None:
    """Return the ``gateway:`` of ``route -n get default``, or None without one."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "gateway" and value.strip():
            return value.strip()
    return None


def parse_scutil_dns(text: str) -> list[str]:
    """Return the nameservers of the unscoped resolvers, in order, without duplicates.

    The "for scoped queries" part repeats per-interface resolvers that are
    only used when a query is bound to that interface, so it is ignored.
    """
    servers: list[str] = []
    for line in text.splitlines():
        if line.startswith("DNS configuration (for scoped queries)"):
            break
        match = _NAMESERVER.match(line)
        if match and match.group(1) not in servers:
            servers.append(match.group(1))
    return servers
