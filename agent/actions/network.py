"""net.tcp_check: can this machine open a TCP connection there, and how fast."""

from __future__ import annotations

import socket
import time
from typing import Any

from agent.actions.context import ActionContext
from catalogue import ActionResult
from catalogue.outcomes.network import tcp_verdict


def tcp_check(params: Any, ctx: ActionContext) -> ActionResult:
    started = time.perf_counter()
    try:
        infos = socket.getaddrinfo(params.host, params.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        data = {
            "host": params.host,
            "port": params.port,
            "reachable": False,
            "error": f"name lookup failed: {exc}",
        }
        return ActionResult(output=f"{params.host}: {data['error']}", data=data)
    resolved = time.perf_counter()
    family, kind, proto, _, address = infos[0]
    error = None
    with socket.socket(family, kind, proto) as sock:
        sock.settimeout(params.timeout_s)
        try:
            sock.connect(address)
        except OSError as exc:
            error = str(exc) or type(exc).__name__
    connected = time.perf_counter()
    data = {
        "host": params.host,
        "port": params.port,
        "address": address[0],
        "reachable": error is None,
        "resolve_ms": round((resolved - started) * 1000, 2),
        "connect_ms": round((connected - resolved) * 1000, 2),
        "error": error,
    }
    output = tcp_verdict(params.host, params.port, str(address[0]), error)
    return ActionResult(output=output, data=data)


ACTIONS = {"net.tcp_check": tcp_check}
