"""Network interfaces: addresses, link state and traffic counters."""

from __future__ import annotations

import socket
from typing import Any

import psutil

_FAMILIES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}


def collect_interfaces() -> list[dict[str, Any]]:
    """Return one entry per interface, sorted by name.

    speed_mbps is None when the driver does not report a speed (virtual NICs,
    Wi-Fi on some systems), which psutil signals with 0.
    """
    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    counters = psutil.net_io_counters(pernic=True)
    interfaces: list[dict[str, Any]] = []
    for name in sorted(set(addrs) | set(stats)):
        mac: str | None = None
        addresses: list[dict[str, Any]] = []
        for addr in addrs.get(name, []):
            if addr.family == psutil.AF_LINK:
                mac = addr.address
            elif addr.family in _FAMILIES:
                addresses.append(
                    {
                        "family": _FAMILIES[addr.family],
                        "address": addr.address,
                        "netmask": addr.netmask,
                    }
                )
        stat = stats.get(name)
        io = counters.get(name)
        interfaces.append(
            {
                "name": name,
                "mac": mac,
                "addresses": addresses,
                "is_up": stat.isup if stat else None,
                "speed_mbps": (stat.speed or None) if stat else None,
                "mtu": stat.mtu if stat else None,
                "bytes_sent": io.bytes_sent if io else None,
                "bytes_recv": io.bytes_recv if io else None,
                "packets_sent": io.packets_sent if io else None,
                "packets_recv": io.packets_recv if io else None,
                "errors_in": io.errin if io else None,
                "errors_out": io.errout if io else None,
                "drops_in": io.dropin if io else None,
                "drops_out": io.dropout if io else None,
            }
        )
    return interfaces
