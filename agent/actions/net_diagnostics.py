"""net.ping, net.dns_resolve, net.http_check, net.listening_ports: is the network there."""

from __future__ import annotations

import http.client
import math
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, cast

import psutil

from agent.actions.context import ActionContext
from catalogue import ActionResult
from catalogue.outcomes.network import ping_summary
from catalogue.probes.ping import first_ip as _first_ip
from catalogue.probes.ping import parse_ping, ping_argv
from catalogue.result import bounded

DNS_PORT = 53  # where an explicit server is asked; tests point it at a loopback responder
DNS_TIMEOUT_S = 5.0
MAX_REDIRECTS = 5
USER_AGENT = "deskside-agent (net.http_check)"
HEADERS = ("server", "content-type")  # the response headers net.http_check reports

# --- net.ping -------------------------------------------------------------------------------


def ping(params: Any, ctx: ActionContext) -> ActionResult:
    argv = ping_argv(sys.platform, params.host, params.count, params.timeout_s)
    budget = params.count * (math.ceil(params.timeout_s) + 1) + 10
    try:
        completed = ctx.run(argv, timeout=budget, stream=True)
    except FileNotFoundError:
        return ActionResult.failure("not_supported", f"no {argv[0]} command on this machine")
    data = {"host": params.host, **parse_ping(completed.stdout, completed.stderr)}
    data["reachable"] = bool(data["received"])
    summary = ping_summary(params.host, data)
    output = summary + "\n\n" + completed.stdout + completed.stderr
    return ActionResult(output=bounded(output), data=data)


# --- net.dns_resolve ------------------------------------------------------------------------


def _system_lookup(name: str, record_type: str) -> dict[str, Any]:
    family = socket.AF_INET if record_type == "A" else socket.AF_INET6
    try:
        infos = socket.getaddrinfo(name, None, family=family, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        nodata = {getattr(socket, code, None) for code in ("EAI_NONAME", "EAI_NODATA")}
        status = "nxdomain" if exc.errno in nodata else "error"
        return {"server": None, "answers": [], "status": status, "error": exc.strerror}
    answers = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    return {"server": None, "answers": answers, "status": "ok", "error": None}


def _dns_query(name: str, record_type: str, server: str | None) -> dict[str, Any]:
    import dns.exception
    import dns.rdtypes.txtbase
    import dns.resolver
    import dns.reversename

    found: dict[str, Any] = {"server": server, "answers": [], "status": "ok", "error": None}
    try:
        resolver = dns.resolver.Resolver(configure=server is None)
        if server is not None:
            # dnspython wants addresses; a server given by name is looked up first.
            address = socket.getaddrinfo(server, DNS_PORT, type=socket.SOCK_DGRAM)[0][4][0]
            resolver.port = DNS_PORT  # before nameservers: they take the port when set
            resolver.nameservers = [str(address)]
        found["server"] = str(resolver.nameservers[0]) if resolver.nameservers else server
        resolver.lifetime = resolver.timeout = DNS_TIMEOUT_S
        qname: Any = name
        if record_type == "PTR" and _first_ip(name):
            qname = dns.reversename.from_address(name)
        answer = resolver.resolve(qname, record_type, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return found | {"status": "nxdomain", "error": f"{name} does not exist (NXDOMAIN)"}
    except dns.exception.Timeout:
        return found | {"status": "timeout", "error": f"no answer within {DNS_TIMEOUT_S:g} s"}
    except dns.resolver.NoNameservers as exc:
        return found | {"status": "servfail", "error": str(exc)}
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return found | {"status": "error", "error": str(exc) or type(exc).__name__}
    found["server"] = str(answer.nameserver)
    if answer.rrset is None:
        return found | {"status": "no_answer", "error": f"{name} has no {record_type} records"}
    for rdata in answer.rrset:
        if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
            found["answers"].append(b"".join(rdata.strings).decode("utf-8", "replace"))
        else:
            found["answers"].append(rdata.to_text())
    found["ttl"] = answer.rrset.ttl
    found["canonical_name"] = answer.canonical_name.to_text()
    return found


def dns_resolve(params: Any, ctx: ActionContext) -> ActionResult:
    started = time.perf_counter()
    if params.server is None and params.record_type in ("A", "AAAA"):
        found = _system_lookup(params.name, params.record_type)
    else:
        found = _dns_query(params.name, params.record_type, params.server)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    data = {"name": params.name, "type": params.record_type, **found, "elapsed_ms": elapsed_ms}
    where = found["server"] or "the system resolver"
    head = f"{params.name} {params.record_type} via {where} ({elapsed_ms} ms)"
    body = "\n".join(found["answers"]) if found["answers"] else found["error"]
    return ActionResult(output=bounded(f"{head}\n{body}"), data=data)


# --- net.http_check -------------------------------------------------------------------------


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows at most MAX_REDIRECTS redirects, to http(s) only, and counts them."""

    max_redirections = MAX_REDIRECTS + 1  # a backstop: redirect_request stops first

    def __init__(self) -> None:
        self.followed = 0

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        refusal = None
        if self.followed >= MAX_REDIRECTS:
            refusal = f"more than {MAX_REDIRECTS} redirects"
        elif urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https", ""):
            refusal = f"redirect to {newurl} refused"
        if refusal is not None:
            raise urllib.error.HTTPError(req.full_url, code, refusal, headers, fp)
        self.followed += 1
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _RecordingHTTPSHandler(urllib.request.HTTPSHandler):
    """Verifies as usual, and keeps each server's certificate (DER) and URL."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.tls_context = context
        self.urls: list[str] = []
        self.certs: list[bytes] = []

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        self.urls.append(req.full_url)
        certs = self.certs

        class Connection(http.client.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                der = cast(ssl.SSLSocket, self.sock).getpeercert(binary_form=True)
                if der:
                    certs.append(der)

        return self.do_open(Connection, req, context=self.tls_context)


def _tls_summary(handler: _RecordingHTTPSHandler, verify_error: str | None) -> dict[str, Any]:
    from agent.actions.certs_time import CERT_TIMEOUT_S, fetch_chain
    from catalogue.probes.x509 import describe_der

    summary: dict[str, Any] = {"verified": verify_error is None, "verify_error": verify_error}
    der = handler.certs[-1] if handler.certs and verify_error is None else None
    if der is None and handler.urls:  # fetch what the server presents, without trusting it
        parts = urllib.parse.urlsplit(handler.urls[-1])
        try:
            chain = fetch_chain(parts.hostname or "", parts.port or 443, CERT_TIMEOUT_S, False)
            der = chain[0] if chain else None
        except (OSError, ValueError):
            der = None
    if der is not None:
        cert = describe_der(der)
        summary |= {k: cert[k] for k in ("subject", "issuer", "not_after", "days_left")}
    return summary


def http_check(params: Any, ctx: ActionContext) -> ActionResult:
    from agent.actions.certs_time import verifying

    redirects, https = _Redirects(), _RecordingHTTPSHandler(verifying())
    # Direct, like a TCP check: the question is whether this machine reaches the server.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), redirects, https)
    # The catalogue admits only http(s) URLs, and _Redirects only http(s) targets.
    request = urllib.request.Request(params.url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    status: int | None = None
    headers: Any = {}
    final_url, error, verify_error = params.url, None, None
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=params.timeout_s) as response:
            status, headers, final_url = response.status, response.headers, response.geturl()
    except urllib.error.HTTPError as exc:  # a status urllib calls an error is still an answer
        status, headers, final_url = exc.code, exc.headers, exc.geturl()
        if 300 <= exc.code < 400:  # a redirect not followed
            error = str(exc.reason)
        exc.close()
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            verify_error = reason.verify_message or str(reason)
        error = str(reason) or type(reason).__name__
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = str(exc) or type(exc).__name__
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    data: dict[str, Any] = {
        "url": params.url,
        "final_url": final_url,
        "status": status,
        "elapsed_ms": elapsed_ms,
        "redirects": redirects.followed,
        "headers": {key: str(headers.get(key, "")).strip() or None for key in HEADERS},
        "tls": None,
        "error": error,
    }
    if https.urls:
        data["tls"] = _tls_summary(https, verify_error)
    got = str(status) if status is not None else f"no response ({error})"
    output = f"GET {params.url} -> {got} in {elapsed_ms} ms"
    if final_url != params.url:
        output += f" (final URL {final_url})"
    if data["tls"] and data["tls"].get("not_after"):
        output += f"\ncertificate expires {data['tls']['not_after']}"
    if params.expect_status is not None and status != params.expect_status:
        message = f"expected status {params.expect_status}, got {got}"
        return ActionResult.failure("unexpected_status", message, output=output, data=data)
    return ActionResult(output=output, data=data)


# --- net.listening_ports --------------------------------------------------------------------


Listener = tuple[int, str, int, int | None]  # family, address, port, pid


def _listener(conn: Any, pid: int | None) -> Listener | None:
    if conn.status != psutil.CONN_LISTEN or not conn.laddr:
        return None
    return int(conn.family), str(conn.laddr.ip), int(conn.laddr.port), pid


def _listening() -> tuple[list[Listener], bool]:
    """LISTEN sockets; where the whole table is closed to us (macOS), per process."""
    try:
        found = [_listener(c, c.pid) for c in psutil.net_connections(kind="inet")]
        return [entry for entry in found if entry], False
    except psutil.AccessDenied:
        pass
    found = []
    for proc in psutil.process_iter():
        try:
            found += [_listener(c, proc.pid) for c in proc.net_connections(kind="inet")]
        except psutil.Error:
            continue
    return [entry for entry in found if entry], True


def listening_ports(params: Any, ctx: ActionContext) -> ActionResult:
    listeners, partial = _listening()
    names: dict[int, str | None] = {}
    rows = []
    for family, address, port, pid in sorted(set(listeners), key=lambda x: (x[2], x[1], x[3] or 0)):
        if pid is not None and pid not in names:
            try:
                names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                names[pid] = None
        kind = "ipv6" if family == socket.AF_INET6 else "ipv4"
        row = {"port": port, "address": address, "family": kind}
        rows.append(row | {"pid": pid, "process": names.get(pid) if pid else None})
    lines = [
        f"{r['port']:>5} {r['address']:<39} {r['pid'] or '-':>7} {r['process'] or '?'}"
        for r in rows
    ]
    data = {"ports": rows, "count": len(rows), "partial": partial}
    return ActionResult(output=bounded("\n".join(lines)), data=data)


ACTIONS = {
    "net.ping": ping,
    "net.dns_resolve": dns_resolve,
    "net.http_check": http_check,
    "net.listening_ports": listening_ports,
}
