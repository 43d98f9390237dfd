"""Services, network, hosts, accounts, certificates and the rest of the posix actions, run
for real through LocalShell (this machine has SysV init, not systemd, as PID 1)."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certificates import self_signed, write_pem
from local_shell import local_context

from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext
from catalogue import actions as params
from controller.transports.posix import ACTIONS, network, system
from controller.transports.posix.services import manager

ROOT = os.geteuid() == 0
INIT_SCRIPT = """#!/bin/sh
# A throwaway SysV service for the posix transport's tests: "running" while its flag exists.
FLAG={flag}
case "$1" in
  start) touch "$FLAG" ;;
  stop) rm -f "$FLAG" ;;
  restart) touch "$FLAG" ;;
  status) test -e "$FLAG" && exit 0 || exit 3 ;;
  *) exit 2 ;;
esac
"""


@pytest.fixture
def init_service(tmp_path: Path) -> Iterator[str]:
    if not ROOT or not Path("/etc/init.d").is_dir() or Path("/run/systemd/system").is_dir():
        pytest.skip("needs root and SysV init")
    name = f"deskside-posix-{secrets.token_hex(3)}"
    script = Path("/etc/init.d") / name
    script.write_text(INIT_SCRIPT.format(flag=tmp_path / "running"))
    script.chmod(0o755)
    yield name
    script.unlink()


def test_service_lifecycle_on_sysv(init_service: str) -> None:
    ctx = local_context()
    given = params.ServiceParams(name=init_service)
    assert ACTIONS["service.status"](given, ctx).data["state"] == "stopped"
    assert manager(ctx) == "sysv" and ctx.facts["service_manager"] == "sysv"
    dry = ACTIONS["service.start"](given, local_context(dry_run=True))
    assert dry.ok and not dry.changed
    started = ACTIONS["service.start"](given, ctx)
    assert started.changed and started.evidence.after["state"] == "running"
    agent = IMPLEMENTATIONS["service.status"](given, ActionContext())
    remote = ACTIONS["service.status"](given, ctx)
    assert remote.data == agent.data
    assert ACTIONS["service.restart"](given, ctx).changed
    stopped = ACTIONS["service.stop"](given, ctx)
    assert stopped.changed and stopped.evidence.after["state"] == "stopped"
    # The manager was probed once for the whole run.
    probes = [c for c in ctx.shell.commands if c[:2] == ["test", "-d"]]  # type: ignore[attr-defined]
    assert len(probes) == 1


def test_unknown_service_is_not_found() -> None:
    got = ACTIONS["service.stop"](params.ServiceParams(name="no-such-svc-x"), local_context())
    assert got.error is not None and got.error.code == "not_found"


def test_ping_and_dns_on_loopback() -> None:
    if not shutil.which("ping"):
        pytest.skip("no ping")
    remote, agent = (
        run(params.NetPing(host="127.0.0.1", count=1), ctx)
        for run, ctx in (
            (ACTIONS["net.ping"], local_context()),
            (IMPLEMENTATIONS["net.ping"], ActionContext()),
        )
    )
    if not agent.data["reachable"]:
        pytest.skip("ICMP is not allowed here")
    assert remote.data.keys() == agent.data.keys() and remote.data["reachable"]
    given = params.NetDnsResolve(name="localhost")
    got = ACTIONS["net.dns_resolve"](given, local_context())
    assert got.data.keys() >= IMPLEMENTATIONS["net.dns_resolve"](given, ActionContext()).data.keys()
    assert got.data["answers"] == ["127.0.0.1"] and got.data["status"] == "ok"
    missing = ACTIONS["net.dns_resolve"](
        params.NetDnsResolve(name="nothing.invalid"), local_context()
    )
    assert missing.data["status"] == "nxdomain" and missing.data["answers"] == []


DIG = """; <<>> DiG 9.18 <<>> example.org MX
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1
;; flags: qr rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

example.org.\t\t300\tIN\tMX\t10 mail.example.org.
example.org.\t\t300\tIN\tTXT\t"v=spf1 -all"

;; Query time: 3 msec
;; SERVER: 192.0.2.53#53(192.0.2.53) (UDP)
"""


def test_dig_output_parses() -> None:
    found = network.parse_dig(DIG)
    assert found == {
        "status": "noerror",
        "answers": ["10 mail.example.org.", "v=spf1 -all"],
        "ttl": 300,
        "server": "192.0.2.53",
    }


@pytest.fixture
def web() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/")
            else:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_check_follows_and_compares(web: str) -> None:
    given = params.NetHttpCheck(url=f"{web}/moved", expect_status=200)
    remote = ACTIONS["net.http_check"](given, local_context())
    agent = IMPLEMENTATIONS["net.http_check"](given, ActionContext())
    assert remote.ok and remote.data.keys() == agent.data.keys()
    for key in ("status", "final_url", "redirects", "headers", "tls", "error"):
        assert remote.data[key] == agent.data[key], key
    wrong = ACTIONS["net.http_check"](
        params.NetHttpCheck(url=web, expect_status=404), local_context()
    )
    assert wrong.error is not None and wrong.error.code == "unexpected_status"


def test_listening_ports_sees_our_socket() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        got = ACTIONS["net.listening_ports"](params.NoParams(), local_context())
        agent = IMPLEMENTATIONS["net.listening_ports"](params.NoParams(), ActionContext())
    mine = [row for row in got.data["ports"] if row["port"] == port]
    assert mine == [
        {
            "port": port,
            "address": "127.0.0.1",
            "family": "ipv4",
            "pid": os.getpid(),
            "process": mine[0]["process"],
        }
    ]
    assert got.data.keys() == agent.data.keys()
    assert mine[0].keys() == agent.data["ports"][0].keys()


def test_tcp_check_needs_nc() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        given = params.NetTcpCheck(host="127.0.0.1", port=sock.getsockname()[1])
        got = ACTIONS["net.tcp_check"](given, local_context())
        if shutil.which("nc") is None:
            assert got.error is not None and got.error.code == "not_supported"
            return
        agent = IMPLEMENTATIONS["net.tcp_check"](given, ActionContext())
    assert got.data["reachable"] and got.data.keys() == agent.data.keys()


def test_hosts_set_edits_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1\tlocalhost\n10.0.0.9\tprinter # office\n")
    hosts.chmod(0o640)
    monkeypatch.setattr(system, "HOSTS_FILE", str(hosts))
    given = params.HostsSet(hostname="printer", address="10.0.0.7")
    dry = ACTIONS["hosts.set"](given, local_context(dry_run=True))
    assert dry.ok and not dry.changed and "10.0.0.9" in hosts.read_text()
    done = ACTIONS["hosts.set"](given, local_context())
    assert done.changed and done.evidence.after == ["10.0.0.7\tprinter # office"]
    assert hosts.read_text() == "127.0.0.1\tlocalhost\n10.0.0.7\tprinter # office\n"
    assert hosts.stat().st_mode & 0o777 == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name != "hosts"]  # no temp file left
    again = ACTIONS["hosts.set"](given, local_context())
    assert again.ok and not again.changed
    removed = ACTIONS["hosts.set"](params.HostsSet(hostname="printer"), local_context())
    assert removed.changed and hosts.read_text() == "127.0.0.1\tlocalhost\n"


def test_reboot_and_dns_flush_dry_runs() -> None:
    reboot = ACTIONS["system.reboot"](params.SystemReboot(delay_s=120), local_context(dry_run=True))
    if shutil.which("shutdown"):
        assert reboot.data == {"argv": ["shutdown", "-r", "+2", "Restarting for maintenance"]}
    flushed = ACTIONS["dns.flush"](params.NoParams(), local_context(dry_run=True))
    assert not flushed.changed
    assert flushed.ok or (flushed.error is not None and flushed.error.code == "not_supported")


def test_print_queue_without_a_scheduler_fails_cleanly() -> None:
    got = ACTIONS["print.clear_queue"](params.PrintClearQueue(), local_context(dry_run=True))
    assert got.ok or (got.error is not None and got.error.code in ("failed", "not_supported"))
    assert not got.changed


def test_cert_check_of_a_file_matches_the_agent(tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    cert, _ = self_signed(
        "posix.test", not_before=dt.timedelta(days=1), not_after=dt.timedelta(days=30)
    )
    write_pem(pem, cert)
    given = params.CertCheck(path=str(pem))
    remote = ACTIONS["cert.check"](given, local_context())
    agent = IMPLEMENTATIONS["cert.check"](given, ActionContext())
    assert remote.ok
    for mine, theirs in zip(remote.data["certificates"], agent.data["certificates"], strict=True):
        assert {k: v for k, v in mine.items() if k != "days_left"} == {
            k: v for k, v in theirs.items() if k != "days_left"
        }
    missing = ACTIONS["cert.check"](params.CertCheck(path=str(tmp_path / "x")), local_context())
    assert missing.error is not None and missing.error.code == "not_found"


@pytest.fixture
def account() -> Iterator[str]:
    if not ROOT or not shutil.which("useradd"):
        pytest.skip("needs root and shadow-utils")
    name = f"dskp{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--no-create-home", name], check=True)
    yield name
    subprocess.run(["userdel", "-f", name], check=False)


def test_unlock_and_reset_password(account: str) -> None:
    given = params.UserParams(username=account)
    subprocess.run(["passwd", "-l", account], check=True, capture_output=True)
    before = ACTIONS["user.unlock"](given, local_context(dry_run=True))
    assert before.ok and before.evidence.before["password_status"] == "locked"
    done = ACTIONS["user.unlock"](given, local_context())
    # A locked account with no password cannot be unlocked by usermod: the agent agrees.
    agent = IMPLEMENTATIONS["user.unlock"](given, ActionContext())
    assert (done.error.code if done.error else None) in (None, "command_failed", "still_locked")
    assert (agent.error.code if agent.error else None) in (None, "command_failed", "still_locked")
    secret = "Correct-Horse-" + secrets.token_hex(4)
    ctx = local_context()
    reset = ACTIONS["user.reset_password"](
        params.UserResetPassword(username=account, password=secret), ctx
    )
    assert reset.changed and reset.evidence.after["password_status"] == "usable"
    assert secret not in repr(reset) and not any(secret in " ".join(c) for c in ctx.shell.commands)  # type: ignore[attr-defined]
    subprocess.run(["passwd", "-l", account], check=True, capture_output=True)
    unlocked = ACTIONS["user.unlock"](given, local_context())
    assert unlocked.changed and unlocked.evidence.after["password_status"] == "usable"
    missing = ACTIONS["user.unlock"](params.UserParams(username="nosuchuserx"), local_context())
    assert missing.error is not None and missing.error.code == "not_found"
