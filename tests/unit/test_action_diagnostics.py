"""The diagnostic actions, each against something real on loopback: an HTTP(S) server,
a TLS endpoint with a certificate made here, a UDP DNS responder, an SNTP server, a
listening socket, and the system ping to 127.0.0.1. Nothing leaves the machine."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import http.server
import ipaddress
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sntp_server import SntpServer, ntp_stamp

from agent.actions import certs_time, diagnostics, net_diagnostics
from agent.actions.context import ActionContext
from catalogue import ActionResult, get
from catalogue.actions import (
    CertCheck,
    InventoryCollect,
    NetDnsResolve,
    NetHttpCheck,
    NetPing,
    NoParams,
    TimeParams,
)

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
NOW = dt.datetime.now(dt.UTC)


def checked(result: ActionResult) -> ActionResult:
    """Every result must survive the trip to the controller as JSON."""
    assert ActionResult.model_validate_json(result.model_dump_json()) == result
    json.dumps(result.data)
    return result


def test_every_action_is_in_the_catalogue() -> None:
    mine = {**net_diagnostics.ACTIONS, **certs_time.ACTIONS, **diagnostics.ACTIONS}
    assert sorted(mine) == sorted(
        [
            "net.ping",
            "net.dns_resolve",
            "net.http_check",
            "net.listening_ports",
            "cert.check",
            "time.check",
            "inventory.collect",
        ]
    )
    for name in mine:
        assert get(name).name == name


# --- certificates -----------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Deskside Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_cert(
    common_name: str,
    *,
    days: tuple[float, float],
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool = False,
    sans: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (_name(common_name), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer, hashes.SHA256()), key


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class Served:
    def __init__(self, cert: x509.Certificate, cert_path: Path, http_port: int, https_port: int):
        self.cert, self.cert_path = cert, cert_path
        self.http, self.https = http_port, https_port


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "deskside-test/1.0"
    sys_version = ""

    def do_GET(self) -> None:
        if self.path.startswith("/loop/"):
            self._redirect(f"/loop/{int(self.path.rsplit('/', 1)[1]) + 1}")
        elif self.path == "/moved":
            self._redirect("/")
        elif self.path == "/to-ftp":
            self._redirect("ftp://127.0.0.1/file")
        else:
            status = 200 if self.path == "/" else 404
            body = b"hello\n" if status == 200 else b"no such page\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: http.server.ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return thread


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Plain HTTP and HTTPS on 127.0.0.1; the HTTPS certificate is self-signed, 10 days left."""
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert, key = make_cert("deskside test", days=(-1, 10), sans=sans)
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(pem(cert))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    threads = [_serve(plain), _serve(tls)]
    yield Served(cert, cert_path, plain.server_address[1], tls.server_address[1])
    for server, thread in zip((plain, tls), threads, strict=True):
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def trust_test_cert(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test certificate part of the 'system store' the actions verify against."""
    monkeypatch.setattr(
        certs_time, "verifying", lambda: ssl.create_default_context(cafile=str(served.cert_path))
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- net.http_check ---------------------------------------------------------------------------


def http_check(**params: Any) -> ActionResult:
    return checked(net_diagnostics.http_check(NetHttpCheck(**params), ActionContext()))


def test_http_ok(served: Served) -> None:
    url = f"http://127.0.0.1:{served.http}/"
    result = http_check(url=url, timeout_s=5)
    assert result.ok, result.error
    data = result.data
    assert (data["status"], data["final_url"], data["redirects"]) == (200, url, 0)
    assert data["headers"] == {
        "server": "deskside-test/1.0",
        "content-type": "text/plain; charset=utf-8",
    }
    assert data["tls"] is None and data["error"] is None
    assert 0 < data["elapsed_ms"] < 5000
    assert http_check(url=url, expect_status=200).ok


def test_http_status_other_than_expected_fails(served: Served) -> None:
    url = f"http://127.0.0.1:{served.http}/missing"
    result = http_check(url=url, expect_status=200)
    assert result.error is not None
    assert result.error.code == "unexpected_status"
    assert "expected status 200, got 404" in result.error.message
    assert result.data["status"] == 404
    # without an expectation a 404 is an answer, not a failure
    plain = http_check(url=url)
    assert plain.ok and plain.data["status"] == 404
    assert http_check(url=url, expect_status=404).ok


def test_http_redirects_are_followed_up_to_five(served: Served) -> None:
    base = f"http://127.0.0.1:{served.http}"
    moved = http_check(url=f"{base}/moved", expect_status=200)
    assert moved.ok
    assert (moved.data["final_url"], moved.data["redirects"]) == (f"{base}/", 1)
    loop = http_check(url=f"{base}/loop/0")
    assert loop.data["status"] == 302
    assert loop.data["redirects"] == 5
    assert loop.data["final_url"] == f"{base}/loop/5"
    assert loop.data["error"] == "more than 5 redirects"
    refused = http_check(url=f"{base}/to-ftp")
    assert refused.data["status"] == 302 and refused.data["redirects"] == 0
    assert refused.data["error"] == "redirect to ftp://127.0.0.1/file refused"


def test_http_nobody_listening() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = http_check(url=url, timeout_s=5)
    assert result.ok
    assert result.data["status"] is None
    assert "refused" in result.data["error"].lower()
    failed = http_check(url=url, expect_status=200, timeout_s=5)
    assert failed.error is not None and failed.error.code == "unexpected_status"
    assert "no response" in failed.error.message


def test_https_untrusted_certificate_is_reported(served: Served) -> None:
    result = http_check(url=f"https://127.0.0.1:{served.https}/", expect_status=200)
    assert result.error is not None and result.error.code == "unexpected_status"
    tls = result.data["tls"]
    assert result.data["status"] is None
    assert tls["verified"] is False
    assert "self" in tls["verify_error"] and "signed" in tls["verify_error"]
    # the certificate is still read, to say when it expires
    assert tls["subject"] == "CN=deskside test,O=Deskside Tests"
    assert 9.9 <= tls["days_left"] <= 10.0


def test_https_trusted_certificate(
    served: Served, trust_test_cert: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def second_connection(*args: Any) -> list[bytes]:
        raise AssertionError("the verified connection's certificate should be used")

    monkeypatch.setattr(certs_time, "fetch_chain", second_connection)
    url = f"https://127.0.0.1:{served.https}/"
    result = http_check(url=url, expect_status=200)
    assert result.ok, result.error
    tls = result.data["tls"]
    assert (tls["verified"], tls["verify_error"]) == (True, None)
    assert tls["not_after"] == served.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 9.9 <= tls["days_left"] <= 10.0
    assert "certificate expires" in result.output


# --- cert.check -------------------------------------------------------------------------------


def cert_check(**params: Any) -> ActionResult:
    return checked(certs_time.cert_check(CertCheck(**params), ActionContext()))


def test_cert_endpoint_self_signed(served: Served) -> None:
    result = cert_check(host="127.0.0.1", port=served.https)
    assert result.ok, result.error
    data = result.data
    assert data["source"] == f"127.0.0.1:{served.https}"
    assert data["verified"] is False and "signed" in data["verify_error"]
    [cert] = data["certificates"]
    assert cert["subject"] == cert["issuer"] == "CN=deskside test,O=Deskside Tests"
    assert cert["self_signed"] is True and cert["expired"] is False
    assert 9.9 <= cert["days_left"] <= 10.0
    assert cert["sans"] == ["localhost", "127.0.0.1"]
    assert cert["sha256"] == fingerprint(served.cert)
    assert cert["serial"] == format(served.cert.serial_number, "x")
    assert "NOT trusted" in result.output


def test_cert_endpoint_trusted(served: Served, trust_test_cert: None) -> None:
    result = cert_check(host="127.0.0.1", port=served.https)
    assert result.ok
    assert (result.data["verified"], result.data["verify_error"]) == (True, None)
    assert result.data["certificates"][0]["sha256"] == fingerprint(served.cert)


def test_cert_endpoint_unreachable() -> None:
    result = cert_check(host="127.0.0.1", port=free_port())
    assert result.error is not None and result.error.code == "failed"


def test_cert_pem_chain(tmp_path: Path) -> None:
    root = make_cert("Test Root", days=(-30, 3650), ca=True)
    intermediate = make_cert("Test Issuing", days=(-30, 200), issuer=root, ca=True)
    leaf, _ = make_cert(
        "www.example.test",
        days=(-93, -3),
        issuer=intermediate,
        sans=[x509.DNSName("www.example.test"), x509.DNSName("example.test")],
    )
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"leaf\n" + pem(leaf) + pem(intermediate[0]) + b"\n" + pem(root[0]))
    result = cert_check(path=str(chain))
    assert result.ok, result.error
    certs = result.data["certificates"]
    assert [c["subject"] for c in certs] == [
        "CN=www.example.test,O=Deskside Tests",
        "CN=Test Issuing,O=Deskside Tests",
        "CN=Test Root,O=Deskside Tests",
    ]
    issuers = [certs[1]["subject"], certs[2]["subject"], certs[2]["subject"]]
    assert [c["issuer"] for c in certs] == issuers
    assert [c["expired"] for c in certs] == [True, False, False]
    assert [c["self_signed"] for c in certs] == [False, False, True]
    assert -3.1 <= certs[0]["days_left"] <= -2.9
    assert 199.9 <= certs[1]["days_left"] <= 200.0
    assert certs[0]["sans"] == ["www.example.test", "example.test"]
    assert certs[2]["sans"] == []
    assert certs[0]["sha256"] == fingerprint(leaf)
    assert certs[0]["not_after"] == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert certs[0]["not_before"] == leaf.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "verified" not in result.data
    assert "EXPIRED 3.0 days ago" in result.output


def test_cert_file_der_and_with_a_key(tmp_path: Path) -> None:
    cert, key = make_cert("der only", days=(0, 30))
    der = tmp_path / "cert.der"
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    assert cert_check(path=str(der)).data["certificates"][0]["subject"].startswith("CN=der only")
    bundle = tmp_path / "bundle.pem"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    bundle.write_bytes(key_pem + pem(cert))
    result = cert_check(path=str(bundle))
    assert len(result.data["certificates"]) == 1
    assert "PRIVATE KEY" not in result.output + json.dumps(result.data)


def test_cert_file_problems(tmp_path: Path) -> None:
    missing = cert_check(path=str(tmp_path / "nope.pem"))
    assert missing.error is not None and missing.error.code == "not_found"
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    broken = cert_check(path=str(junk))
    assert broken.error is not None and broken.error.code == "failed"
    assert "no certificate" in broken.error.message


# --- time.check -------------------------------------------------------------------------------


@pytest.fixture
def sntp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SntpServer]:
    server = SntpServer()
    monkeypatch.setattr(certs_time, "NTP_PORT", server.port)
    monkeypatch.setattr(certs_time, "NTP_TIMEOUT_S", 0.3)
    monkeypatch.setattr(certs_time, "NTP_ATTEMPTS", 2)
    yield server
    server.close()


def time_check(server: str | None) -> ActionResult:
    return checked(certs_time.time_check(TimeParams(server=server), ActionContext()))


def test_time_offset_from_an_sntp_server(sntp: SntpServer) -> None:
    result = time_check("127.0.0.1")
    assert result.ok, result.error
    data = result.data
    assert abs(data["offset_s"] - 2.5) < 0.05
    assert 0 <= data["delay_s"] < 0.05
    assert (data["stratum"], data["reference_id"], data["leap"]) == (2, "127.0.0.1", 0)
    assert (data["server"], data["address"]) == ("127.0.0.1", "127.0.0.1")
    server_time = dt.datetime.strptime(data["server_time"], "%Y-%m-%dT%H:%M:%SZ")
    ahead = server_time.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    assert 1 <= ahead.total_seconds() <= 3.5
    assert " s behind the server" in result.output
    # the request is SNTP v4 client mode with our transmit time in it
    request = sntp.requests[0]
    assert len(request) == 48 and request[0] == 0x23
    assert abs(certs_time.from_ntp(request[40:48]) - time.time()) < 5


def test_time_server_on_its_own_port() -> None:
    """host:port reaches a server off port 123 without touching NTP_PORT."""
    server = SntpServer(offset=-40)
    try:
        result = time_check(server.address)
    finally:
        server.close()
    assert result.ok, result.error
    assert abs(result.data["offset_s"] + 40) < 0.05
    assert (result.data["server"], result.data["address"]) == (server.address, "127.0.0.1")


def test_time_clock_ahead(sntp: SntpServer) -> None:
    sntp.offset = -1.25
    result = time_check("127.0.0.1")
    assert abs(result.data["offset_s"] + 1.25) < 0.05
    assert "ahead of the server" in result.output


def test_time_server_refusals(sntp: SntpServer) -> None:
    sntp.mode = "kiss"
    kissed = time_check("127.0.0.1")
    assert kissed.error is not None and kissed.error.code == "failed"
    assert "kiss code RATE" in kissed.error.message
    sntp.mode = "stranger"
    stranger = time_check("127.0.0.1")
    assert stranger.error is not None and "originate" in stranger.error.message
    sntp.mode = "silent"
    started = time.monotonic()
    silent = time_check("127.0.0.1")
    assert silent.error is not None and silent.error.code == "timeout"
    assert time.monotonic() - started < 3
    assert len(sntp.requests) == 1 + 2 + 2  # retried once each time it went unanswered


def test_time_without_server_is_not_supported_yet() -> None:
    result = time_check(None)
    assert result.error is not None and result.error.code == "not_supported"
    assert result.error.message == (
        "give server (an NTP server); offset from the controller comes with the stream"
    )


def test_ntp_timestamps() -> None:
    assert certs_time.to_ntp(0.0) == struct.pack("!II", 2_208_988_800, 0)
    assert certs_time.from_ntp(struct.pack("!II", 3_908_988_800, 2**31)) == 1_700_000_000.5
    # after 2036-02-07 the seconds wrap (era 1); a clear top bit means era 1
    in_2040 = dt.datetime(2040, 1, 1, tzinfo=dt.UTC).timestamp()
    wrapped = certs_time.to_ntp(in_2040)
    assert struct.unpack("!I", wrapped[:4])[0] < 2**31
    assert certs_time.from_ntp(wrapped) == in_2040


@pytest.mark.parametrize(
    ("first_byte", "stratum", "message"),
    [
        (0 << 6 | 4 << 3 | 3, 2, "not a server reply"),
        (3 << 6 | 4 << 3 | 4, 2, "not synchronised"),
        (0 << 6 | 4 << 3 | 4, 0, "kiss code DENY"),
    ],
)
def test_sntp_bad_replies(first_byte: int, stratum: int, message: str) -> None:
    sent = ntp_stamp(time.time())
    reply = bytes([first_byte, stratum, 6, 0]) + bytes(8) + b"DENY" + bytes(8) + sent + sent * 2
    with pytest.raises(certs_time.SntpError, match=message):
        certs_time.parse_sntp_reply(reply, sent, time.time(), time.time())
    with pytest.raises(certs_time.SntpError, match="short"):
        certs_time.parse_sntp_reply(reply[:40], sent, time.time(), time.time())


def test_sntp_reply_to_someone_else() -> None:
    sent, other = ntp_stamp(time.time()), ntp_stamp(time.time() - 60)
    reply = bytes([0 << 6 | 4 << 3 | 4, 2, 6, 0]) + bytes(20) + other + sent * 2
    with pytest.raises(certs_time.SntpError, match="originate"):
        certs_time.parse_sntp_reply(reply, sent, time.time(), time.time())
    assert certs_time.parse_sntp_reply(reply[:24] + sent + reply[32:], sent, 0, 0)["stratum"] == 2


# --- net.listening_ports ----------------------------------------------------------------------


def ours(result: ActionResult, port: int) -> list[dict[str, Any]]:
    return [row for row in result.data["ports"] if row["port"] == port]


def listening_ports() -> ActionResult:
    return checked(net_diagnostics.listening_ports(NoParams(), ActionContext()))


def test_listening_ports_finds_our_socket() -> None:
    with (
        socket.socket() as sock,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket() as client,
    ):
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        udp.bind(("127.0.0.1", 0))
        client.connect(("127.0.0.1", port))
        result = listening_ports()
        # bound or connected is not listening
        assert ours(result, udp.getsockname()[1]) == []
        assert ours(result, client.getsockname()[1]) == []
    me = psutil.Process()
    assert ours(result, port) == [
        {
            "port": port,
            "address": "127.0.0.1",
            "family": "ipv4",
            "pid": os.getpid(),
            "process": me.name(),
        }
    ]
    ports = [row["port"] for row in result.data["ports"]]
    assert ports == sorted(ports) and result.data["count"] == len(ports)
    assert result.data["partial"] is False
    assert f"{port:>5} 127.0.0.1" in result.output
    assert ours(listening_ports(), port) == []  # closed: gone


def test_listening_ports_per_process_when_the_table_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def denied(kind: str = "inet") -> list[Any]:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "net_connections", denied)
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = listening_ports()
    assert result.data["partial"] is True
    [row] = ours(result, port)
    assert (row["address"], row["family"], row["pid"]) == ("::1", "ipv6", os.getpid())


# --- net.ping ---------------------------------------------------------------------------------


def test_ping_loopback_for_real() -> None:
    # No skip: CI has iputils-ping; elsewhere `apt-get install iputils-ping`.
    params = NetPing(host="127.0.0.1", count=2, timeout_s=2)
    result = checked(net_diagnostics.ping(params, ActionContext()))
    assert result.ok, (result.error, shutil.which("ping"))
    data = result.data
    assert (data["host"], data["address"], data["reachable"]) == ("127.0.0.1", "127.0.0.1", True)
    assert (data["sent"], data["received"], data["loss_percent"]) == (2, 2, 0.0)
    assert 0 <= data["rtt_min_ms"] <= data["rtt_avg_ms"] <= data["rtt_max_ms"] < 100
    assert "2/2 replies" in result.output


class Recorded(ActionContext):
    """Answers every command with a recorded output instead of running it."""

    def __init__(self, stdout: str, returncode: int = 1, stderr: str = "") -> None:
        super().__init__()
        self.answer = (stdout, returncode, stderr)
        self.argvs: list[list[str]] = []

    def run(
        self, argv: list[str], timeout: float = 60.0, stream: bool = False
    ) -> subprocess.CompletedProcess[str]:
        self.argvs.append(argv)
        stdout, returncode, stderr = self.answer
        return subprocess.CompletedProcess(argv, returncode, stdout, stderr)


def test_ping_unreachable_is_a_result_not_an_error() -> None:
    text = (RECORDED / "linux" / "actions" / "ping-host-unreachable.txt").read_text()
    ctx = Recorded(text)
    result = checked(net_diagnostics.ping(NetPing(host="10.20.0.99", count=3), ctx))
    assert result.ok
    assert ctx.argvs == [net_diagnostics.ping_argv(sys.platform, "10.20.0.99", 3, 5)]
    assert result.data["reachable"] is False
    assert result.data["error"] == "From 10.20.0.5 icmp_seq=1 Destination Host Unreachable"
    assert "not reachable" in result.output


def test_ping_without_a_ping_command() -> None:
    class Missing(ActionContext):
        def run(
            self, argv: list[str], timeout: float = 60.0, stream: bool = False
        ) -> subprocess.CompletedProcess[str]:
            raise FileNotFoundError(errno.ENOENT, "No such file", argv[0])

    result = net_diagnostics.ping(NetPing(host="127.0.0.1"), Missing())
    assert result.error is not None and result.error.code == "not_supported"


# --- net.dns_resolve --------------------------------------------------------------------------


def dns_resolve(**params: Any) -> ActionResult:
    return checked(net_diagnostics.dns_resolve(NetDnsResolve(**params), ActionContext()))


def test_dns_system_resolver_localhost() -> None:
    result = dns_resolve(name="localhost", record_type="A")
    assert result.ok
    data = result.data
    assert (data["name"], data["type"], data["server"], data["status"]) == (
        "localhost",
        "A",
        None,
        "ok",
    )
    assert "127.0.0.1" in data["answers"]
    assert len(data["answers"]) == len(set(data["answers"]))
    assert data["elapsed_ms"] >= 0 and data["error"] is None


def test_dns_system_resolver_no_such_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def nxdomain(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    result = dns_resolve(name="nosuch.example.test")
    assert result.ok
    assert (result.data["status"], result.data["answers"]) == ("nxdomain", [])
    assert result.data["error"] == "Name or service not known"


class DnsResponder:
    """A UDP DNS server on 127.0.0.1 that knows host.example.test and its reverse name."""

    def __init__(self) -> None:
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        self.records = {
            ("host.example.test.", dns.rdatatype.A): "192.0.2.10",
            ("host.example.test.", dns.rdatatype.MX): "10 mail.example.test.",
            ("host.example.test.", dns.rdatatype.TXT): '"v=spf1 " "-all"',
            ("10.2.0.192.in-addr.arpa.", dns.rdatatype.PTR): "host.example.test.",
        }
        self.silent = False
        self.questions: list[tuple[str, str]] = []
        self._message, self._rcode, self._rrset = dns.message, dns.rcode, dns.rrset
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import dns.rdatatype

        while not self.stopping.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = self._message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text()
            self.questions.append((name, dns.rdatatype.to_text(question.rdtype)))
            if self.silent:
                continue
            response = self._message.make_response(query)
            value = self.records.get((name, question.rdtype))
            if value is not None:
                kind = dns.rdatatype.to_text(question.rdtype)
                response.answer.append(self._rrset.from_text(name, 300, "IN", kind, value))
            elif not any(known == name for known, _ in self.records):
                response.set_rcode(self._rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def responder(monkeypatch: pytest.MonkeyPatch) -> Iterator[DnsResponder]:
    server = DnsResponder()
    # NetDnsResolve.server is a host without a port: the port comes from the module.
    monkeypatch.setattr(net_diagnostics, "DNS_PORT", server.port)
    monkeypatch.setattr(net_diagnostics, "DNS_TIMEOUT_S", 0.5)
    yield server
    server.close()


@pytest.mark.parametrize(
    ("name", "record_type", "answers"),
    [
        ("host.example.test", "A", ["192.0.2.10"]),
        ("host.example.test", "MX", ["10 mail.example.test."]),
        ("host.example.test", "TXT", ["v=spf1 -all"]),
        ("192.0.2.10", "PTR", ["host.example.test."]),
    ],
)
def test_dns_explicit_server(
    responder: DnsResponder, name: str, record_type: str, answers: list[str]
) -> None:
    result = dns_resolve(name=name, record_type=record_type, server="127.0.0.1")
    assert result.ok
    data = result.data
    assert (data["name"], data["type"], data["server"]) == (name, record_type, "127.0.0.1")
    assert (data["answers"], data["status"], data["error"]) == (answers, "ok", None)
    assert data["ttl"] == 300 and data["elapsed_ms"] >= 0
    assert responder.questions[-1][1] == record_type


def test_dns_explicit_server_failures(responder: DnsResponder) -> None:
    missing = dns_resolve(name="nosuch.example.test", record_type="A", server="127.0.0.1")
    assert missing.ok
    assert (missing.data["status"], missing.data["answers"]) == ("nxdomain", [])
    assert "NXDOMAIN" in missing.data["error"]
    empty = dns_resolve(name="host.example.test", record_type="AAAA", server="127.0.0.1")
    assert (empty.data["status"], empty.data["answers"]) == ("no_answer", [])
    responder.silent = True
    quiet = dns_resolve(name="host.example.test", record_type="MX", server="127.0.0.1")
    assert quiet.ok
    assert quiet.data["status"] == "timeout" and "0.5 s" in quiet.data["error"]


# --- inventory.collect ------------------------------------------------------------------------


def test_inventory_live_sections() -> None:
    result = checked(
        diagnostics.inventory_collect(InventoryCollect(sections=["os", "memory"]), ActionContext())
    )
    assert result.ok
    assert list(result.data) == ["os", "memory"]
    assert result.data["os"]["hostname"] == socket.gethostname()
    assert result.data["memory"]["total"] == psutil.virtual_memory().total
    assert diagnostics.collector() is diagnostics.collector()  # one for every run


def test_inventory_filter_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.inventory import SECTIONS

    class Fake:
        def snapshot(self) -> dict[str, Any]:
            sections: dict[str, Any] = {name: {"n": 1} for name in SECTIONS}
            sections["os"] = {"hostname": "desk-42", "pretty_name": "Debian 12"}
            sections["software"] = {"error": "OSError: dpkg is gone"}
            return sections

    fake: Callable[[], Any] = Fake
    monkeypatch.setattr(diagnostics, "collector", fake)
    everything = diagnostics.inventory_collect(InventoryCollect(), ActionContext())
    assert list(everything.data) == list(SECTIONS)
    assert everything.output.splitlines()[0] == "desk-42 (Debian 12)"
    assert "software: error: OSError: dpkg is gone" in everything.output
    twice = InventoryCollect(sections=["users", "cpu", "users"])
    picked = diagnostics.inventory_collect(twice, ActionContext())
    assert list(picked.data) == ["users", "cpu"]
    assert picked.output.splitlines()[1:] == ["users: 1 fields", "cpu: 1 fields"]
