"""SSH connections kept open per target, so a warm fan-out does not redo handshakes.

One paramiko.Transport per target (endpoint, address, port, user, jump), opened on first
use and reused while alive. A per-target lock makes a cold fan-out of many actions open one
connection per host; a thread pool the size of `max_connects` bounds how many handshakes
(CPU-bound in paramiko) run at once. Host keys are checked against the pinned key only:
nothing is ever learnt silently (no AutoAddPolicy, no known_hosts file written).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import paramiko

from controller.transports.base import Target
from controller.transports.errors import (
    AuthenticationFailed,
    HostKeyRefused,
    ProtocolError,
    TransportError,
    Unreachable,
)

T = TypeVar("T")
PoolKey = tuple[str, str, int, str, str, "PoolKey | None"]
_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


def pool_key(target: Target) -> PoolKey:
    """Which targets share a connection. Changed credentials open a new one (and prove
    themselves) rather than ride on a session the old ones authenticated."""
    jump = pool_key(target.jump) if target.jump else None
    secrets = hashlib.sha256(repr((target.password, target.private_key)).encode()).hexdigest()
    return (target.endpoint_id, target.address, target.port, target.username, secrets, jump)


def key_text(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def _same_key(seen: str, pinned: str | None) -> bool:
    # A pinned key may carry a comment ("ssh-ed25519 AAAA... root@host"); type and body decide.
    return pinned is not None and seen.split()[:2] == pinned.split()[:2]


def map_error(exc: OSError | EOFError | paramiko.SSHException, where: str) -> TransportError:
    """The TransportError for a socket or paramiko error raised while reaching `where`."""
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthenticationFailed(f"{where}: authentication refused ({exc})")
    if isinstance(exc, paramiko.ChannelException):
        # The jump host answered, but could not reach the next hop.
        return Unreachable(f"{where}: {exc.text} (via the jump host)")
    if isinstance(exc, paramiko.SSHException):
        return ProtocolError(f"{where}: {exc}")
    if isinstance(exc, EOFError):
        return Unreachable(f"{where}: connection closed by the host")
    if isinstance(exc, TimeoutError):
        return Unreachable(f"{where}: timed out")
    return Unreachable(f"{where}: {exc.strerror or str(exc) or type(exc).__name__}")


MAPPED = (OSError, EOFError, paramiko.SSHException)


@contextlib.contextmanager
def closed_on_error(transport: paramiko.Transport, where: str) -> Iterator[None]:
    """Close a half-set-up transport if anything fails, and map the library's errors."""
    try:
        yield
    except BaseException as exc:
        transport.close()
        if isinstance(exc, MAPPED):
            raise map_error(exc, where) from exc
        raise


def load_private_key(pem: str) -> paramiko.PKey:
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(pem))
        except (paramiko.SSHException, ValueError):
            continue
    raise AuthenticationFailed("the private key could not be read (Ed25519, ECDSA or RSA)")


def _authenticate(transport: paramiko.Transport, target: Target) -> None:
    refused: paramiko.AuthenticationException | None = None
    if target.private_key:
        try:
            transport.auth_publickey(target.username, load_private_key(target.private_key))
            return
        except paramiko.AuthenticationException as exc:
            refused = exc
    if target.password is not None:
        # fallback=True answers a keyboard-interactive prompt with the password when the
        # server offers only that (as PAM-based servers often do).
        transport.auth_password(target.username, target.password, fallback=True)
        return
    raise refused or AuthenticationFailed("no private key or password configured")


class Connection(NamedTuple):
    """A pooled transport and the session slots its server allows at once."""

    transport: paramiko.Transport
    sessions: threading.BoundedSemaphore


@dataclass
class _Entry:
    sessions: threading.BoundedSemaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    transport: paramiko.Transport | None = None
    jump: PoolKey | None = None
    last_used: float = 0.0
    leases: int = 0

    def alive(self) -> bool:
        return self.transport is not None and self.transport.is_active()


class SshPool:
    """Open, verified, authenticated transports, shared by every action on a target."""

    def __init__(
        self,
        *,
        max_connects: int = 32,
        max_sessions: int = 8,
        keepalive_s: float = 15.0,
        idle_close_s: float = 300.0,
    ) -> None:
        # OpenSSH refuses more than MaxSessions (default 10) channels per connection.
        self.max_sessions = max_sessions
        self.keepalive_s = keepalive_s
        self.idle_close_s = idle_close_s
        self.opened = 0  # handshakes completed, for tests and metrics
        self._executor = ThreadPoolExecutor(max_connects, thread_name_prefix="ssh-connect")
        self._entries: dict[PoolKey, _Entry] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def lease(self, target: Target) -> AsyncIterator[Connection]:
        """A live connection to target; not closed for idleness while leased."""
        key = pool_key(target)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(threading.BoundedSemaphore(self.max_sessions))
        entry.leases += 1
        try:
            yield Connection(await self._connected(target, entry), entry.sessions)
        finally:
            entry.leases -= 1
            entry.last_used = time.monotonic()

    @contextlib.asynccontextmanager
    async def _via(self, jump: Target | None) -> AsyncIterator[paramiko.Transport | None]:
        if jump is None:
            yield None
        else:
            async with self.lease(jump) as connection:
                yield connection.transport

    async def host_key(self, target: Target) -> str:
        """The key the host shows now, read without authenticating (for trust-on-enrol)."""
        async with self._via(target.jump) as jump:
            transport = await self._in_thread(self._handshake, target, jump)
        seen = key_text(transport.get_remote_server_key())
        await self._in_thread(transport.close)
        return seen

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for entry in self._entries.values():
            if entry.transport is not None:
                await self._in_thread(entry.transport.close)
        self._entries.clear()
        self._executor.shutdown(wait=False)

    async def _connected(self, target: Target, entry: _Entry) -> paramiko.Transport:
        async with entry.lock:
            current = entry.transport
            if current is not None and current.is_active():
                seen = key_text(current.get_remote_server_key())
                if _same_key(seen, target.host_key):
                    return current
                # The pin changed since this connection was verified: verify afresh.
            if current is not None:
                entry.transport = None
                await self._in_thread(current.close)
            # The jump is leased before a connect slot is taken, so targets waiting on
            # their jump can never hold every slot the jump itself needs.
            async with self._via(target.jump) as jump:
                opened = await self._in_thread(self._open, target, jump)
            entry.transport = opened
            entry.jump = pool_key(target.jump) if target.jump else None
            self.opened += 1
            self._start_sweeper()
            return opened

    async def _in_thread(self, fn: Callable[..., T], *args: object) -> T:
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The caller gave up, but the thread goes on: a connection it opens is closed.
            future.add_done_callback(_close_result)
            raise

    @staticmethod
    def _socket(
        target: Target, jump: paramiko.Transport | None
    ) -> socket.socket | paramiko.Channel:
        where = f"{target.address}:{target.port}"
        try:
            if jump is not None:
                return jump.open_channel(
                    "direct-tcpip",
                    (target.address, target.port),
                    ("127.0.0.1", 0),
                    timeout=target.connect_timeout_s,
                )
            sock = socket.create_connection((target.address, target.port), target.connect_timeout_s)
        except MAPPED as exc:
            raise map_error(exc, where) from exc
        # Without it each request waits out the peer's delayed ACK (~40 ms instead of ~3 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _handshake(self, target: Target, jump: paramiko.Transport | None) -> paramiko.Transport:
        """Connect and agree keys, without authenticating."""
        where = f"{target.address}:{target.port}"
        transport = paramiko.Transport(self._socket(target, jump))
        transport.banner_timeout = transport.auth_timeout = target.connect_timeout_s
        done = threading.Event()
        with closed_on_error(transport, where):
            transport.start_client(event=done)
            if not done.wait(target.connect_timeout_s):
                raise Unreachable(f"{where}: SSH handshake timed out")
            if not transport.is_active():
                raise transport.get_exception() or ProtocolError(f"{where}: negotiation failed")
        return transport

    def _open(self, target: Target, jump: paramiko.Transport | None) -> paramiko.Transport:
        where = f"{target.address}:{target.port}"
        transport = self._handshake(target, jump)
        with closed_on_error(transport, where):
            seen = key_text(transport.get_remote_server_key())
            if not _same_key(seen, target.host_key):
                what = "no host key is pinned" if target.host_key is None else "host key changed"
                raise HostKeyRefused(f"{where}: {what}; refusing to connect", seen=seen)
            _authenticate(transport, target)
            transport.set_keepalive(round(self.keepalive_s))
        return transport

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(max(self.idle_close_s / 2, 1.0))
            await self.close_idle()

    async def close_idle(self) -> int:
        """Close connections unused for idle_close_s (not leased, not a live jump)."""
        cutoff = time.monotonic() - self.idle_close_s
        jumps = {e.jump for e in self._entries.values() if e.alive()}
        closed = 0
        for key, entry in list(self._entries.items()):
            if entry.leases or key in jumps or entry.last_used > cutoff or entry.lock.locked():
                continue
            del self._entries[key]
            if entry.transport is not None:
                await self._in_thread(entry.transport.close)
                closed += 1
        return closed


def _close_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        result = future.result()
        if isinstance(result, paramiko.Transport):
            result.close()
