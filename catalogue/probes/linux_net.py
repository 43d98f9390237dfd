"""Default gateway and DNS servers on Linux, read from kernel and resolver files."""

from __future__ import annotations

import socket
import struct

ROUTE_PATH = "/proc/net/route"
RESOLV_CONF_PATH = "/etc/resolv.conf"

_RTF_UP = 0x1
_RTF_GATEWAY = 0x2


def parse_proc_net_route(text: str) -> str | None:
    """Return the IPv4 default gateway with the lowest metric, or None.

    /proc/net/route prints each address as a hex integer in the kernel's
    native byte order: "010200C0" is 192.0.2.1 on a little-endian host.
    """
    best: tuple[int, str] | None = None
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        destination, gateway, flags, metric, mask = (
            fields[1],
            fields[2],
            fields[3],
            fields[6],
            fields[7],
        )
        try:
            flag_bits = int(flags, 16)
            if int(destination, 16) != 0 or int(mask, 16) != 0:
                continue
            if not flag_bits & _RTF_UP or not flag_bits & _RTF_GATEWAY:
                continue
            address = socket.inet_ntoa(struct.pack("=L", int(gateway, 16)))
            rank = int(metric)
        except (ValueError, struct.error):
            continue
        if best is None or rank < best[0]:
            best = (rank, address)
    return best[1] if best else None


def parse_resolv_conf(text: str) -> list[str]:
    """Return the ``nameserver`` addresses in file order, without duplicates."""
    servers: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver" and fields[1] not in servers:
            servers.append(fields[1])
    return servers
