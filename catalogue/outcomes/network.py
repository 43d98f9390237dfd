"""net.ping and net.tcp_check: the one-line verdicts every transport reports."""

from __future__ import annotations

from typing import Any


def ping_summary(host: str, data: dict[str, Any]) -> str:
    """The first line of net.ping's output, from its data (parse_ping's keys + reachable)."""
    if data["reachable"]:
        return (
            f"{host} ({data['address']}): {data['received']}/{data['sent']} replies, "
            f"{data['loss_percent']}% loss, rtt min/avg/max "
            f"{data['rtt_min_ms']}/{data['rtt_avg_ms']}/{data['rtt_max_ms']} ms"
        )
    return f"{host}: not reachable ({data['error']})"


def tcp_verdict(host: str, port: int, address: str, error: str | None) -> str:
    """net.tcp_check's output once the name resolved to address."""
    verdict = "open" if error is None else f"not reachable ({error})"
    return f"{host}:{port} ({address}) {verdict}"
