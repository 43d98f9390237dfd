"""Default gateway and DNS servers on Windows, from Win32_NetworkAdapterConfiguration."""

from __future__ import annotations

from typing import Any

from catalogue.probes.powershell import as_str_list, load_json_rows, powershell_argv

ARGV = powershell_argv(
    "Get-CimInstance Win32_NetworkAdapterConfiguration -Filter 'IPEnabled=True'"
    " | Select-Object Description,InterfaceIndex,IPConnectionMetric,"
    "DefaultIPGateway,DNSServerSearchOrder"
    " | ConvertTo-Json"
)


def parse_adapter_config(text: str) -> dict[str, Any] | None:
    """Return {default_gateway, dns_servers} or None if unreadable.

    The gateway is the first IPv4 one of the adapter with the lowest
    IPConnectionMetric, the adapter Windows itself prefers for the default
    route; DNS servers are gathered from all adapters in that order.
    """
    rows = load_json_rows(text)
    if rows is None:
        return None

    def metric(row: dict[str, Any]) -> int:
        value = row.get("IPConnectionMetric")
        return value if isinstance(value, int) else 1 << 30

    gateway: str | None = None
    dns_servers: list[str] = []
    for row in sorted(rows, key=metric):
        gateways = as_str_list(row.get("DefaultIPGateway"))
        if gateway is None and gateways:
            gateway = next((g for g in gateways if ":" not in g), gateways[0])
        for server in as_str_list(row.get("DNSServerSearchOrder")):
            if server not in dns_servers:
                dns_servers.append(server)
    return {"default_gateway": gateway, "dns_servers": dns_servers}
