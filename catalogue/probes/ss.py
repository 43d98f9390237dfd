"""Listening TCP sockets from iproute2's ``ss -lntpH``."""

from __future__ import annotations

import re
from typing import Any

ARGV = ["ss", "-lntpH"]
_USER = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+)')


def parse_listening(text: str) -> list[dict[str, Any]]:
    """Rows {port, address, family, pid, process}, one per process holding the socket.

    Local addresses look like ``0.0.0.0:22``, ``[::]:22``, ``*:22`` (any address, both
    families) or ``127.0.0.53%lo:53`` (bound to an interface). Without the privilege to
    see a socket's owner, ss prints no users: pid and process are then None.
    """
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 5 or fields[0] != "LISTEN":
            continue
        address, _, port = fields[3].rpartition(":")
        if not port.isdigit():
            continue
        address = address.strip("[]").split("%")[0]
        family = "ipv6" if ":" in address or address == "*" else "ipv4"
        address = "::" if address == "*" else address
        users = _USER.findall(fields[5]) if len(fields) > 5 else []
        for process, pid in users or [(None, None)]:
            row = {"port": int(port), "address": address, "family": family}
            rows.append(row | {"pid": int(pid) if pid else None, "process": process})
    return rows
