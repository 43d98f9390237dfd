"""cert.check and time.check: certificates that expire and clocks that drift."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import struct
import time
from typing import TYPE_CHECKING, Any

from agent.actions.context import ActionContext
from catalogue import ActionResult
from catalogue.fields import split_host_port
from catalogue.outcomes.certs import checked
from catalogue.probes.x509 import MAX_CERT_FILE, describe_der, describe_file
from catalogue.probes.x509 import stamp as _stamp

if TYPE_CHECKING:
    pass

CERT_TIMEOUT_S = 10.0
NTP_PORT = 123  # unless the server names its port (host:port)
NTP_TIMEOUT_S = 2.0  # per attempt
NTP_ATTEMPTS = 3
NTP_EPOCH = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
NO_SERVER = "give server (an NTP server); offset from the controller comes with the stream"

# --- cert.check -----------------------------------------------------------------------------


def verifying() -> ssl.SSLContext:
    """The context that says whether a certificate is trusted: the system store."""
    return ssl.create_default_context()


def _inspecting() -> ssl.SSLContext:
    # Verification off on purpose: the point is to read certificates that fail it.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def fetch_chain(host: str, port: int, timeout: float, verify: bool) -> list[bytes]:
    """The certificates (DER) a TLS server presents: the leaf, and the chain where
    this Python can show it (3.13+). verify=True raises SSLCertVerificationError."""
    context = verifying() if verify else _inspecting()
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        unverified = getattr(tls, "get_unverified_chain", None)
        chain = unverified() if unverified is not None else None
        if chain and all(isinstance(der, bytes) for der in chain):
            return list(chain)
        leaf = tls.getpeercert(binary_form=True)
        return [leaf] if leaf else []


def _from_file(path: str) -> tuple[dict[str, Any] | None, ActionResult | None]:
    try:
        if os.stat(path).st_size > MAX_CERT_FILE:
            return None, ActionResult.failure("failed", f"{path} is larger than a certificate")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CERT_FILE)
    except FileNotFoundError:
        return None, ActionResult.failure("not_found", f"{path} does not exist")
    except OSError as exc:
        return None, ActionResult.failure("failed", f"cannot read {path}: {exc.strerror or exc}")
    try:
        certificates = describe_file(raw)
    except ValueError as exc:
        return None, ActionResult.failure("failed", f"no certificate in {path}: {exc}")
    return {"source": path, "certificates": certificates}, None


def _from_endpoint(host: str, port: int) -> tuple[dict[str, Any] | None, ActionResult | None]:
    where = f"{host}:{port}"
    verify_error = None
    try:
        try:
            chain = fetch_chain(host, port, CERT_TIMEOUT_S, verify=True)
        except ssl.SSLCertVerificationError as exc:
            verify_error = exc.verify_message or str(exc)
            chain = fetch_chain(host, port, CERT_TIMEOUT_S, verify=False)
    except TimeoutError:
        waited = f"{CERT_TIMEOUT_S:g} s"
        return None, ActionResult.failure("timeout", f"{where}: no TLS handshake within {waited}")
    except (OSError, ValueError) as exc:
        return None, ActionResult.failure("failed", f"{where}: {exc}")
    if not chain:
        return None, ActionResult.failure("failed", f"{where} presented no certificate")
    certs = [describe_der(der) for der in chain]
    found = {"source": where, "verified": verify_error is None, "verify_error": verify_error}
    return found | {"certificates": certs}, None


def cert_check(params: Any, ctx: ActionContext) -> ActionResult:
    if params.path is not None:
        data, refusal = _from_file(params.path)
    else:
        data, refusal = _from_endpoint(params.host, params.port)
    if refusal is not None or data is None:
        return refusal or ActionResult.failure("failed", "nothing to check")
    return checked(data)


# --- time.check: SNTP (RFC 4330) --------------------------------------------------------


class SntpError(Exception):
    """The server answered with something that cannot be used."""


def to_ntp(unix: float) -> bytes:
    """A UNIX time as a 64-bit NTP timestamp (seconds and fraction since 1900)."""
    seconds, fraction = divmod(unix + NTP_EPOCH, 1.0)
    return struct.pack("!II", int(seconds) & 0xFFFFFFFF, int(fraction * 2**32) & 0xFFFFFFFF)


def from_ntp(raw: bytes) -> float:
    """An NTP timestamp as UNIX time; RFC 4330 §3: a clear top bit means era 1 (2036-)."""
    seconds, fraction = struct.unpack("!II", raw)
    if not seconds & 0x80000000:
        seconds += 2**32
    return float(seconds - NTP_EPOCH + fraction / 2**32)


def sntp_request(transmit: bytes) -> bytes:
    """A client request: LI 0, version 4, mode 3, our transmit time in the last field."""
    return bytes([0 << 6 | 4 << 3 | 3]) + bytes(39) + transmit


def parse_sntp_reply(reply: bytes, sent: bytes, t1: float, t4: float) -> dict[str, Any]:
    """Offset and delay (RFC 4330 §5) from a reply to a request carrying `sent`,
    sent at t1 and received at t4 (local UNIX times)."""
    if len(reply) < 48:
        raise SntpError(f"short reply ({len(reply)} bytes)")
    leap, version, mode, stratum = reply[0] >> 6, reply[0] >> 3 & 7, reply[0] & 7, reply[1]
    if mode != 4:
        raise SntpError(f"not a server reply (mode {mode})")
    if stratum == 0:
        code = reply[12:16].decode("ascii", "replace").strip("\x00")
        raise SntpError(f"the server refused (kiss code {code or '?'})")
    if leap == 3:
        raise SntpError("the server's clock is not synchronised (leap indicator 3)")
    if reply[24:32] != sent:
        raise SntpError("the reply is not for our request (originate timestamp differs)")
    if reply[40:48] == bytes(8):
        raise SntpError("the reply has no transmit timestamp")
    t2, t3 = from_ntp(reply[32:40]), from_ntp(reply[40:48])
    refid = reply[12:16]
    reference = refid.decode("ascii", "replace").strip("\x00") if stratum == 1 else None
    return {
        "offset_s": round(((t2 - t1) + (t3 - t4)) / 2, 6),
        "delay_s": round((t4 - t1) - (t3 - t2), 6),
        "stratum": stratum,
        "leap": leap,
        "version": version,
        "reference_id": reference or socket.inet_ntoa(refid),
        "server_time": _stamp(dt.datetime.fromtimestamp(t3, dt.UTC)),
    }


def sntp_query(address: tuple[Any, ...], family: int) -> dict[str, Any]:
    """Ask once per attempt; a reply that is not for the latest request is skipped."""
    strays = 0
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        for _ in range(NTP_ATTEMPTS):
            t1, started = time.time(), time.perf_counter()
            sent = to_ntp(t1)
            sock.send(sntp_request(sent))
            deadline = started + NTP_TIMEOUT_S
            while (left := deadline - time.perf_counter()) > 0:
                sock.settimeout(left)
                try:
                    reply = sock.recv(1024)
                except TimeoutError:
                    break
                t4 = t1 + (time.perf_counter() - started)
                if reply[24:32] == sent or len(reply) < 32:
                    return parse_sntp_reply(reply, sent, t1, t4)
                strays += 1
    if strays:
        raise SntpError(f"{strays} replies, none for our requests (originate timestamp differs)")
    raise TimeoutError


def time_check(params: Any, ctx: ActionContext) -> ActionResult:
    if params.server is None:
        return ActionResult.failure("not_supported", NO_SERVER)
    server = params.server
    host, port = split_host_port(server)
    try:
        where = socket.getaddrinfo(host, port or NTP_PORT, type=socket.SOCK_DGRAM)
        family, _, _, _, address = where[0]
        found = sntp_query(address, family)
    except TimeoutError:
        waited = NTP_ATTEMPTS * NTP_TIMEOUT_S
        return ActionResult.failure("timeout", f"{server}: no NTP answer within {waited:g} s")
    except SntpError as exc:
        return ActionResult.failure("failed", f"{server}: {exc}")
    except OSError as exc:
        return ActionResult.failure("failed", f"{server}: {exc.strerror or exc}")
    local = _stamp(dt.datetime.now(dt.UTC))
    data = {"server": server, "address": address[0], **found, "local_time": local}
    offset = found["offset_s"]
    side = "behind" if offset > 0 else "ahead of"
    output = (
        f"{server} ({address[0]}): the local clock is {abs(offset):.3f} s {side} the server "
        f"(delay {found['delay_s'] * 1000:.1f} ms, stratum {found['stratum']})"
    )
    return ActionResult(output=output, data=data)


ACTIONS = {"cert.check": cert_check, "time.check": time_check}
