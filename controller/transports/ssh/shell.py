"""Commands over one pooled SSH connection, from argument lists only.

The far end's login shell parses the command line, so it is built with shlex.join: every
argv element arrives as one literal argument, whatever quotes or `$(...)` it holds. `env
LC_ALL=C` gives the parsers in catalogue/probes untranslated output; with `sudo` the line
becomes `sudo -n env LC_ALL=C ...` (-n: fail at once rather than wait for a password
prompt nobody answers; env after sudo, as sudo's env_reset would drop LC_ALL).
"""

from __future__ import annotations

import select
import shlex
import threading
import time

import paramiko

from controller.transports.base import Completed
from controller.transports.errors import CommandTimedOut, Unreachable
from controller.transports.ssh.pool import MAPPED, Connection, map_error

OUTPUT_LIMIT = 4 * 1024 * 1024  # bytes kept per stream; a runaway command cannot fill memory
_CHUNK = 32768


def command_line(argv: list[str], *, sudo: bool) -> str:
    if not argv:
        raise ValueError("argv is empty")
    return shlex.join([*(["sudo", "-n"] if sudo else []), "env", "LC_ALL=C", *argv])


class _Capped:
    """The first `limit` bytes of a stream; the rest is read and dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        room = self.limit - self.kept
        self.chunks.append(data[:room])
        self.kept += min(len(data), room)
        self.dropped += max(len(data) - room, 0)

    def text(self) -> str:
        text = b"".join(self.chunks).decode("utf-8", errors="replace")
        return text + (f"\n[... {self.dropped} bytes cut ...]\n" if self.dropped else "")


class SshShell:
    """A RemoteShell on a live paramiko transport. Thread-safe: one channel per run."""

    def __init__(
        self,
        connection: Connection,
        where: str,
        *,
        sudo: bool = False,
        output_limit: int = OUTPUT_LIMIT,
    ) -> None:
        self.transport, self.sessions = connection
        self.where = where
        self.sudo = sudo
        self.output_limit = output_limit
        self._lock = threading.Lock()
        self._channels: set[paramiko.Channel] = set()
        self._cancelled = False

    def cancel(self) -> None:
        """Stop running commands and refuse new ones (the action's time is up)."""
        with self._lock:
            self._cancelled = True
            channels = list(self._channels)
        for channel in channels:
            channel.close()

    def run(self, argv: list[str], timeout: float = 60.0, stdin: str | None = None) -> Completed:
        line = command_line(argv, sudo=self.sudo)
        deadline = time.monotonic() + timeout
        if not self.sessions.acquire(timeout=timeout):
            raise CommandTimedOut(f"{self.where}: no free session for {argv[0]} in {timeout} s")
        try:
            return self._run_session(line, argv[0], deadline, timeout, stdin)
        finally:
            self.sessions.release()

    def _run_session(
        self, line: str, name: str, deadline: float, timeout: float, stdin: str | None
    ) -> Completed:
        try:
            channel = self.transport.open_session(timeout=timeout)
        except MAPPED as exc:
            raise map_error(exc, self.where) from exc
        with self._lock:
            if self._cancelled:
                channel.close()
                raise CommandTimedOut(f"{self.where}: the action ran out of time")
            self._channels.add(channel)
        try:
            channel.exec_command(line)
            if stdin is not None:
                channel.settimeout(timeout)
                channel.sendall(stdin.encode())
            # EOF on stdin, so a command that reads it cannot wait for more forever.
            channel.shutdown_write()
            return self._collect(channel, deadline, name, timeout)
        except TimeoutError as exc:
            raise CommandTimedOut(f"{self.where}: {name} timed out after {timeout} s") from exc
        except MAPPED as exc:
            raise map_error(exc, self.where) from exc
        finally:
            with self._lock:
                self._channels.discard(channel)
            channel.close()

    def _collect(
        self, channel: paramiko.Channel, deadline: float, name: str, timeout: float
    ) -> Completed:
        stdout, stderr = _Capped(self.output_limit), _Capped(self.output_limit)
        # poll() rather than select(): a busy controller may hold descriptors above 1024.
        poller = select.poll()
        poller.register(channel.fileno(), select.POLLIN)
        while True:
            while channel.recv_ready():
                stdout.feed(channel.recv(_CHUNK))
            while channel.recv_stderr_ready():
                stderr.feed(channel.recv_stderr(_CHUNK))
            if channel.eof_received or channel.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimedOut(f"{self.where}: {name} timed out after {timeout} s")
            poller.poll(remaining * 1000)
        # Output ended; the exit status follows (a command may close stdout and go on).
        if not channel.status_event.wait(max(deadline - time.monotonic(), 0)):
            raise CommandTimedOut(f"{self.where}: {name} timed out after {timeout} s")
        if self._cancelled:
            raise CommandTimedOut(f"{self.where}: the action ran out of time")
        status = channel.recv_exit_status()
        # -1: no exit status came, either because a signal ended the command (its answer
        # stands) or because the connection dropped (then nothing it said is trustworthy).
        if status == -1 and not self.transport.is_active():
            raise Unreachable(f"{self.where}: connection lost while {name} ran")
        return Completed(status, stdout.text(), stderr.text())
