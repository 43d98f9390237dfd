"""The ssh shell and pool without a server: quoting, sudo, output bounds, error mapping."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import threading
from collections.abc import AsyncIterator
from typing import Any

import paramiko
import pytest

from controller.transports.base import Target
from controller.transports.errors import (
    AuthenticationFailed,
    CommandTimedOut,
    ProtocolError,
    TransportError,
    Unreachable,
)
from controller.transports.ssh import SshShell, SshTransport
from controller.transports.ssh.pool import Connection, map_error, pool_key
from controller.transports.ssh.shell import command_line
from controller.transports.ssh.transport import changes_machine

TARGET = Target("ep", "ssh", "192.0.2.1", 22, "ops", password="pw")


class FakeChannel:
    """Hands out prepared output in chunks; `finishes=False` never sends EOF or status."""

    def __init__(self, stdout: bytes = b"", status: int = 0, finishes: bool = True) -> None:
        self.chunks = [stdout[i : i + 1000] for i in range(0, len(stdout), 1000)]
        self.status = status
        self.read_end, self.write_end = os.pipe()
        if finishes:
            os.write(self.write_end, b"!")  # readable for good, as paramiko's pipe is after EOF
        self.eof_received = finishes
        self.closed = False
        self.status_event = threading.Event()
        if finishes:
            self.status_event.set()
        self.command = ""
        self.stdin = b""
        self.write_shut = False

    def exec_command(self, line: str) -> None:
        self.command = line

    def settimeout(self, timeout: float) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.stdin += data

    def shutdown_write(self) -> None:
        self.write_shut = True

    def fileno(self) -> int:
        return self.read_end

    def recv_ready(self) -> bool:
        return bool(self.chunks)

    def recv(self, size: int) -> bytes:
        return self.chunks.pop(0)

    def recv_stderr_ready(self) -> bool:
        return False

    def recv_exit_status(self) -> int:
        return self.status

    def close(self) -> None:
        if not self.closed:
            os.close(self.read_end)
            os.close(self.write_end)
        self.closed = True


class FakeTransport:
    def __init__(self, channel: FakeChannel) -> None:
        self.channel = channel

    def open_session(self, timeout: float) -> FakeChannel:
        return self.channel

    def is_active(self) -> bool:
        return True


def shell(channel: FakeChannel, **kw: Any) -> SshShell:
    connection = Connection(FakeTransport(channel), threading.BoundedSemaphore(1))  # type: ignore[arg-type]
    return SshShell(connection, "host:22", **kw)


@pytest.mark.parametrize(
    "argv", [["echo", "a b"], ["printf", "%s", "$(reboot)", "`id`", "x; rm -rf /", "it's"]]
)
def test_each_argument_survives_the_remote_shell_as_one_word(argv: list[str]) -> None:
    assert shlex.split(command_line(argv, sudo=False)) == ["env", "LC_ALL=C", *argv]
    assert shlex.split(command_line(argv, sudo=True)) == ["sudo", "-n", "env", "LC_ALL=C", *argv]


def test_empty_argv_is_refused() -> None:
    with pytest.raises(ValueError):
        command_line([], sudo=False)


def test_run_sends_stdin_and_returns_the_decoded_answer() -> None:
    channel = FakeChannel("héllo\n".encode(), status=3)
    done = shell(channel, sudo=True).run(["cat"], stdin="secret")
    assert done == (3, "héllo\n", "")
    assert channel.command == "sudo -n env LC_ALL=C cat"
    assert channel.stdin == b"secret" and channel.write_shut and channel.closed


def test_output_beyond_the_limit_is_dropped_not_kept() -> None:
    channel = FakeChannel(b"x" * 5000 + "é".encode())
    done = shell(channel, output_limit=2500).run(["yes"])
    assert done.stdout.startswith("x" * 2500)
    assert "x" * 2501 not in done.stdout
    assert "2502 bytes cut" in done.stdout


def test_a_command_that_never_ends_times_out_and_is_closed() -> None:
    channel = FakeChannel(finishes=False)
    with pytest.raises(CommandTimedOut):
        shell(channel).run(["sleep", "30"], timeout=0.2)
    assert channel.closed


def test_a_cancelled_shell_runs_nothing() -> None:
    channel = FakeChannel(b"ran")
    cancelled = shell(channel)
    cancelled.cancel()
    with pytest.raises(CommandTimedOut):
        cancelled.run(["true"])
    assert channel.command == ""


@pytest.mark.parametrize(
    ("error", "expected", "words"),
    [
        (paramiko.AuthenticationException("no"), AuthenticationFailed, "authentication"),
        (paramiko.BadAuthenticationType("bad", ["publickey"]), AuthenticationFailed, "auth"),
        (paramiko.ChannelException(2, "Connect failed"), Unreachable, "jump host"),
        (paramiko.SSHException("Error reading SSH protocol banner"), ProtocolError, "banner"),
        (ConnectionRefusedError(111, "Connection refused"), Unreachable, "refused"),
        (TimeoutError(), Unreachable, "timed out"),
        (EOFError(), Unreachable, "closed"),
    ],
)
def test_library_errors_map_to_the_transport_tree(
    error: Exception, expected: type[TransportError], words: str
) -> None:
    mapped = map_error(error, "192.0.2.1:22")  # type: ignore[arg-type]
    assert type(mapped) is expected
    assert words in str(mapped) and "192.0.2.1:22" in str(mapped)


def test_pool_key_separates_jumps_and_credentials() -> None:
    assert pool_key(TARGET) == pool_key(dataclasses.replace(TARGET, host_key="ssh-ed25519 A"))
    assert pool_key(TARGET) != pool_key(dataclasses.replace(TARGET, password="new"))
    assert pool_key(TARGET) != pool_key(dataclasses.replace(TARGET, jump=TARGET))


def test_only_reads_skip_sudo() -> None:
    assert not changes_machine("process.list")
    assert changes_machine("service.restart")
    assert changes_machine("not.in.catalogue")


class FailingPool:
    opened = 0

    @contextlib.asynccontextmanager
    async def lease(self, target: Target) -> AsyncIterator[Connection]:
        raise Unreachable("192.0.2.1:22: No route to host")
        yield  # pragma: no cover

    async def aclose(self) -> None:
        pass


async def test_transport_errors_come_back_as_results() -> None:
    ssh = SshTransport({"process.list": lambda p, c: None}, lambda c: {}, pool=FailingPool())  # type: ignore[arg-type]
    failed = await ssh.run_action(TARGET, "process.list", {}, dry_run=False, timeout_s=5)
    assert failed.error is not None and failed.error.code == "unreachable"
    missing = await ssh.run_action(TARGET, "log.tail", {}, dry_run=False, timeout_s=5)
    assert missing.error is not None and missing.error.code == "not_supported"
    await ssh.aclose()
