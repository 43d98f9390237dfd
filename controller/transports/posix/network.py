"""net.ping, net.tcp_check, net.dns_resolve, net.http_check, net.listening_ports, run on
the endpoint: the question is what the endpoint reaches, not what the controller does."""

from __future__ import annotations

import math
import time
from typing import Any

from catalogue import ActionResult
from catalogue.outcomes.network import ping_summary, tcp_verdict
from catalogue.probes import ss
from catalogue.probes.ping import parse_ping, ping_argv
from catalogue.result import bounded
from controller.transports.base import RemoteContext
from controller.transports.posix.common import NOT_FOUND, has_command, platform, said, uid

USER_AGENT = "deskside (net.http_check over ssh)"
MAX_REDIRECTS = 5
HEADERS = ("server", "content-type")
DNS_TIMEOUT_S = 5


def ping(params: Any, ctx: RemoteContext) -> ActionResult:
    argv = ping_argv(platform(ctx), params.host, params.count, params.timeout_s)
    budget = params.count * (math.ceil(params.timeout_s) + 1) + 10
    done = ctx.run(argv, timeout=budget)
    if done.returncode == NOT_FOUND:
        return ActionResult.failure("not_supported", f"no {argv[0]} command on the endpoint")
    ctx.emit(done.stdout)
    data = {"host": params.host, **parse_ping(done.stdout, done.stderr)}
    data["reachable"] = bool(data["received"])
    summary = ping_summary(params.host, data)
    return ActionResult(output=bounded(summary + "\n\n" + done.stdout + done.stderr), data=data)


def _addresses(ctx: RemoteContext, name: str, family: str) -> tuple[list[str], int]:
    """The system resolver's answers (getent: files, DNS, whatever nsswitch says)."""
    database = {"A": "ahostsv4", "AAAA": "ahostsv6"}.get(family, "ahosts")
    done = ctx.run(["getent", database, name], timeout=30)
    found = [line.split()[0] for line in done.stdout.splitlines() if line.split()]
    return list(dict.fromkeys(found)), done.returncode


def tcp_check(params: Any, ctx: RemoteContext) -> ActionResult:
    # nc takes host and port as arguments; bash's /dev/tcp would need them in shell text.
    if not has_command(ctx, "nc"):
        return ActionResult.failure("not_supported", "no nc (netcat) on the endpoint")
    started = time.perf_counter()
    addresses, _ = _addresses(ctx, params.host, "any")
    resolved = time.perf_counter()
    base = {"host": params.host, "port": params.port}
    if not addresses:
        data = base | {"reachable": False, "error": "name lookup failed"}
        return ActionResult(output=f"{params.host}: {data['error']}", data=data)
    wait = str(max(1, math.ceil(params.timeout_s)))
    argv = ["nc", "-z", "-w", wait, "--", addresses[0], str(params.port)]
    done = ctx.run(argv, timeout=params.timeout_s + 15)
    connected = time.perf_counter()
    error = None if done.returncode == 0 else said(done)
    data = base | {
        "address": addresses[0],
        "reachable": error is None,
        # Measured from the controller: each includes one round trip to the endpoint.
        "resolve_ms": round((resolved - started) * 1000, 2),
        "connect_ms": round((connected - resolved) * 1000, 2),
        "error": error,
    }
    output = tcp_verdict(params.host, params.port, addresses[0], error)
    return ActionResult(output=output, data=data)


def parse_dig(text: str) -> dict[str, Any]:
    """status, server, answers and ttl from `dig +noall +comments +answer +stats` output."""
    found: dict[str, Any] = {"status": "error", "answers": [], "ttl": None, "server": None}
    for line in text.splitlines():
        if "status:" in line:
            found["status"] = line.split("status:")[1].split(",")[0].strip().lower()
        elif line.startswith(";; SERVER:"):
            found["server"] = line.split()[2].split("#")[0]
        elif line and not line.startswith(";"):
            fields = line.split(None, 4)
            if len(fields) == 5:
                found["answers"].append(
                    fields[4].strip().strip('"') if fields[3] == "TXT" else fields[4].strip()
                )
                found["ttl"] = int(fields[1]) if found["ttl"] is None else found["ttl"]
    return found


def _dig(ctx: RemoteContext, params: Any) -> dict[str, Any]:
    if not has_command(ctx, "dig"):
        return {"status": "error", "server": params.server, "answers": [], "unsupported": True}
    argv = ["dig", "+noall", "+comments", "+answer", "+stats", f"+time={DNS_TIMEOUT_S}", "+tries=1"]
    if params.record_type == "PTR":
        argv += ["-x", params.name]
    else:
        argv += [params.name, params.record_type]
    if params.server:
        argv.append(f"@{params.server}")
    done = ctx.run(argv, timeout=DNS_TIMEOUT_S + 15)
    found = parse_dig(done.stdout) | {"error": None}
    if done.returncode == 9:  # dig: no reply from any server
        return found | {"status": "timeout", "error": f"no answer within {DNS_TIMEOUT_S} s"}
    status = found["status"]
    if status == "noerror":
        found["status"] = "ok" if found["answers"] else "no_answer"
        if not found["answers"]:
            found["error"] = f"{params.name} has no {params.record_type} records"
    elif status in ("nxdomain", "servfail"):
        found["error"] = f"{params.name}: {status.upper()}"
    else:
        found["error"] = said(done)
    return found


def dns_resolve(params: Any, ctx: RemoteContext) -> ActionResult:
    started = time.perf_counter()
    if params.server is None and params.record_type in ("A", "AAAA"):
        answers, code = _addresses(ctx, params.name, params.record_type)
        status = "ok" if answers else "nxdomain" if code == 2 else "error"
        error = None if answers else f"{params.name}: no {params.record_type} address"
        found: dict[str, Any] = {
            "server": None,
            "answers": answers,
            "status": status,
            "error": error,
        }
    else:
        found = _dig(ctx, params)
        if found.pop("unsupported", False):
            message = "no dig on the endpoint: only A and AAAA through its resolver"
            return ActionResult.failure("not_supported", message)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    data = {"name": params.name, "type": params.record_type, **found, "elapsed_ms": elapsed_ms}
    head = f"{params.name} {params.record_type} via {found['server'] or 'the system resolver'}"
    body = "\n".join(found["answers"]) if found["answers"] else found["error"]
    return ActionResult(output=bounded(f"{head} ({elapsed_ms} ms)\n{body}"), data=data)


_WRITE_OUT = "\n%{http_code} %{num_redirects} %{time_total} %{ssl_verify_result} %{url_effective}"


def _last_headers(text: str) -> dict[str, str]:
    """The headers of the last response curl -D - dumped (one block per redirect)."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.startswith("HTTP/")]
    headers: dict[str, str] = {}
    for line in blocks[-1].splitlines()[1:] if blocks else []:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return headers


def http_check(params: Any, ctx: RemoteContext) -> ActionResult:
    argv = [
        "curl", "-sS", "-o", "/dev/null", "-D", "-", "-L", "--max-redirs", str(MAX_REDIRECTS),
        "--proto", "=http,https", "--proto-redir", "=http,https", "--noproxy", "*",
        "--max-time", str(params.timeout_s), "-A", USER_AGENT, "-w", _WRITE_OUT, "--", params.url,
    ]  # fmt: skip
    started = time.perf_counter()
    done = ctx.run(argv, timeout=params.timeout_s + 15)
    if done.returncode == NOT_FOUND:
        return ActionResult.failure("not_supported", "no curl on the endpoint")
    head, _, tail = done.stdout.rpartition("\n")
    code, redirects, total, verify, final_url = (tail.split(" ", 4) + [""] * 5)[:5]
    status = int(code) if code.isdigit() and code != "000" else None
    error = said(done) if done.returncode != 0 else None
    elapsed_ms = (
        round(float(total) * 1000, 2) if total else round((time.perf_counter() - started) * 1000, 2)
    )
    headers = _last_headers(head)
    data: dict[str, Any] = {
        "url": params.url,
        "final_url": final_url or params.url,
        "status": status,
        "elapsed_ms": elapsed_ms,
        "redirects": int(redirects) if redirects.isdigit() else 0,
        "headers": {key: headers.get(key) or None for key in HEADERS},
        "tls": None,
        "error": error,
    }
    if (final_url or params.url).lower().startswith("https:"):
        # curl exits 60 when the certificate is not trusted; 0 is verify's "ok".
        trusted = done.returncode != 60 and verify in ("0", "")
        data["tls"] = {"verified": trusted, "verify_error": None if trusted else error}
    got = str(status) if status is not None else f"no response ({error})"
    output = f"GET {params.url} -> {got} in {elapsed_ms} ms"
    if data["final_url"] != params.url:
        output += f" (final URL {data['final_url']})"
    if params.expect_status is not None and status != params.expect_status:
        message = f"expected status {params.expect_status}, got {got}"
        return ActionResult.failure("unexpected_status", message, output=output, data=data)
    return ActionResult(output=output, data=data)


def listening_ports(params: Any, ctx: RemoteContext) -> ActionResult:
    done = ctx.run(ss.ARGV, timeout=30)
    if done.returncode == NOT_FOUND:
        return ActionResult.failure("not_supported", "no ss (iproute2) on the endpoint")
    rows = sorted(
        ss.parse_listening(done.stdout), key=lambda r: (r["port"], r["address"], r["pid"] or 0)
    )
    lines = [
        f"{r['port']:>5} {r['address']:<39} {r['pid'] or '-':>7} {r['process'] or '?'}"
        for r in rows
    ]
    # Without root, ss names the owners of our own sockets only.
    data = {"ports": rows, "count": len(rows), "partial": uid(ctx) != 0}
    return ActionResult(output=bounded("\n".join(lines)), data=data)


ACTIONS = {
    "net.ping": ping,
    "net.tcp_check": tcp_check,
    "net.dns_resolve": dns_resolve,
    "net.http_check": http_check,
    "net.listening_ports": listening_ports,
}
