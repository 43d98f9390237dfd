"""net.ping, net.tcp_check and net.dns_resolve from the endpoint, over WinRM.

ping and tcp_check use .NET's Ping and TcpClient rather than Test-Connection and
Test-NetConnection: Windows PowerShell 5.1's cmdlets take no timeout (Test-NetConnection
also pings first), and the catalogue's timeout_s must hold. DNS uses Resolve-DnsName,
whose error ids (not its localised messages) tell NXDOMAIN from a timeout.
"""

from __future__ import annotations

import statistics
from typing import Any

from catalogue import ActionResult
from catalogue.outcomes.network import ping_summary, tcp_verdict
from catalogue.result import bounded
from controller.transports.base import RemoteAction, RemoteContext
from controller.transports.winrm.common import (
    as_list,
    json_answer,
    run_script,
    script_failure,
    unparsable,
)

_PING = (
    "$ping = New-Object System.Net.NetworkInformation.Ping\n"
    "$replies = @(); $address = $null; $why = $null; $sent = 0\n"
    "for ($k = 0; $k -lt $P.count; $k++) {\n"
    "  try { $r = $ping.Send($P.host, [int]($P.timeout_s * 1000)); $sent++ }"
    " catch { $why = $_.Exception.GetBaseException().Message; break }\n"
    "  if ($r.Status -eq 'Success') {"
    " $replies += $r.RoundtripTime; $address = $r.Address.ToString() }"
    " elseif ($null -eq $why) { $why = $r.Status.ToString() }\n"
    "  if ($k + 1 -lt $P.count) { Start-Sleep -Seconds 1 } }\n"
    "[pscustomobject]@{ sent = $sent; address = $address; replies = @($replies); error = $why }"
    " | ConvertTo-Json -Compress\n"
)


def parse_ping(answer: Any) -> dict[str, Any] | None:
    """The agent's ping fields from the script's answer (round trips in whole ms)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("sent"), int):
        return None
    rtts = [float(r) for r in as_list(answer.get("replies")) if isinstance(r, int | float)]
    sent = answer["sent"]  # echoes sent: 0 when the name did not resolve
    return {
        "address": answer.get("address"),
        "sent": sent,
        "received": len(rtts),
        "loss_percent": round(100 * (sent - len(rtts)) / sent, 1) if sent else None,
        "rtt_min_ms": min(rtts) if rtts else None,
        "rtt_avg_ms": round(statistics.fmean(rtts), 3) if rtts else None,
        "rtt_max_ms": max(rtts) if rtts else None,
        "error": None if rtts else answer.get("error") or "no reply",
    }


def ping(params: Any, ctx: RemoteContext) -> ActionResult:
    budget = params.count * (params.timeout_s + 1) + 30  # + powershell's own start
    sent = {"host": params.host, "count": params.count, "timeout_s": params.timeout_s}
    done = run_script(ctx, _PING, sent, budget)
    if done.returncode != 0:
        return script_failure(done, "ping")
    found = parse_ping(json_answer(done))
    if found is None:
        return unparsable(done, "ping")
    data = {"host": params.host, **found, "reachable": bool(found["received"])}
    summary = ping_summary(params.host, data)
    return ActionResult(output=bounded(summary), data=data)


_TCP = (
    "$clock = [Diagnostics.Stopwatch]::StartNew(); $address = $null; $err = $null\n"
    "try { $address = @([Net.Dns]::GetHostAddresses($P.host))[0] }"
    " catch { $err = 'name lookup failed: ' + $_.Exception.GetBaseException().Message }\n"
    "$resolved = $clock.Elapsed.TotalMilliseconds\n"
    "if ($null -eq $err) { $c = New-Object Net.Sockets.TcpClient($address.AddressFamily)\n"
    "  try { $task = $c.ConnectAsync($address, $P.port)\n"
    "    if (-not $task.Wait([int]($P.timeout_s * 1000))) { $err = 'timed out' } }"
    " catch { $err = $_.Exception.GetBaseException().Message } finally { $c.Dispose() } }\n"
    "[pscustomobject]@{ address = $(if ($address) { $address.ToString() }); error = $err;"
    " resolve_ms = $resolved; connect_ms = $clock.Elapsed.TotalMilliseconds - $resolved }"
    " | ConvertTo-Json -Compress\n"
)


def tcp_check(params: Any, ctx: RemoteContext) -> ActionResult:
    sent = {"host": params.host, "port": params.port, "timeout_s": params.timeout_s}
    done = run_script(ctx, _TCP, sent, params.timeout_s + 60)
    if done.returncode != 0:
        return script_failure(done, "tcp_check")
    found = json_answer(done)
    if not isinstance(found, dict) or "error" not in found:
        return unparsable(done, "tcp_check")
    error = found.get("error")
    data = {
        "host": params.host,
        "port": params.port,
        "address": found.get("address"),
        "reachable": error is None,
        "resolve_ms": round(float(found.get("resolve_ms") or 0), 2),
        "connect_ms": round(float(found.get("connect_ms") or 0), 2),
        "error": error,
    }
    if data["address"] is None:
        return ActionResult(output=f"{params.host}: {error}", data=data)
    output = tcp_verdict(params.host, params.port, data["address"], error)
    return ActionResult(output=output, data=data)


# One text per answer record, written as dnspython's to_text writes them on the agent.
_DNS = (
    "$clock = [Diagnostics.Stopwatch]::StartNew()\n"
    "$ask = @{ Name = $P.name; Type = $P.type; DnsOnly = $true; QuickTimeout = $true }\n"
    "if ($null -ne $P.server) { $ask.Server = $P.server }\n"
    "$status = 'ok'; $err = $null; $rows = @()\n"
    "try { $rows = @(Resolve-DnsName @ask | Where-Object { $_.Section -eq 'Answer'"
    " -and $_.Type -eq $P.type }) }\n"
    "catch { $err = $_.Exception.Message; $id = $_.FullyQualifiedErrorId\n"
    "  $status = $(if ($id -like 'DNS_ERROR_RCODE_NAME_ERROR*') { 'nxdomain' }"
    " elseif ($id -like 'ERROR_TIMEOUT*') { 'timeout' } else { 'error' }) }\n"
    "$answers = foreach ($r in $rows) { switch ($P.type) {\n"
    "  { $_ -in 'A', 'AAAA' } { $r.IPAddress }\n"
    "  { $_ -in 'CNAME', 'NS', 'PTR' } { $r.NameHost + '.' }\n"
    "  'MX' { '{0} {1}.' -f $r.Preference, $r.NameExchange }\n"
    "  'TXT' { $r.Strings -join '' }\n"
    "  'SRV' { '{0} {1} {2} {3}.' -f $r.Priority, $r.Weight, $r.Port, $r.NameTarget } } }\n"
    "[pscustomobject]@{ answers = @($answers); status = $status; error = $err;"
    " ttl = $(if ($rows) { $rows[0].TTL }); elapsed_ms = $clock.Elapsed.TotalMilliseconds }"
    " | ConvertTo-Json -Compress\n"
)


def dns_resolve(params: Any, ctx: RemoteContext) -> ActionResult:
    sent = {"name": params.name, "type": params.record_type, "server": params.server}
    done = run_script(ctx, _DNS, sent)
    if done.returncode != 0:
        return script_failure(done, "dns_resolve")
    found = json_answer(done)
    if not isinstance(found, dict) or not isinstance(found.get("status"), str):
        return unparsable(done, "dns_resolve")
    answers = [str(a) for a in as_list(found.get("answers"))]
    status, error = found["status"], found.get("error")
    if status == "ok" and not answers:
        status, error = "no_answer", f"{params.name} has no {params.record_type} records"
    data = {
        "name": params.name,
        "type": params.record_type,
        "server": params.server,
        "answers": answers,
        "status": status,
        "error": error,
        "ttl": found.get("ttl"),
        "elapsed_ms": round(float(found.get("elapsed_ms") or 0), 2),
    }
    where = params.server or "the endpoint's resolver"
    head = f"{params.name} {params.record_type} via {where} ({data['elapsed_ms']} ms)"
    body = "\n".join(answers) if answers else error
    return ActionResult(output=bounded(f"{head}\n{body}"), data=data)


ACTIONS: dict[str, RemoteAction] = {
    "net.ping": ping,
    "net.tcp_check": tcp_check,
    "net.dns_resolve": dns_resolve,
}
