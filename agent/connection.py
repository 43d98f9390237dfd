"""One connection to the controller: hello, then heartbeats, spooled messages and live run
output up, acks down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from agent import __version__
from agent.spool import Spool
from agent.state import Credentials, Identity
from protos.deskside.v1 import SERVER_NAME, agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)
WELCOME_TIMEOUT_S = 30.0


class Refused(Exception):
    """The controller refused this agent (unknown or revoked certificate)."""


@dataclass
class Intervals:
    heartbeat_s: float = 5.0
    inventory_s: float = 300.0


def open_channel(
    identity: Identity, credentials: Credentials, heartbeat_s: float
) -> grpc.aio.Channel:
    keepalive_ms = max(500, int(heartbeat_s * 2000))
    options = [
        ("grpc.ssl_target_name_override", SERVER_NAME),
        # Pings notice a dead link (a pulled cable sends no reset) within about two
        # heartbeats, where TCP alone would take many minutes.
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", keepalive_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.enable_retries", 0),
        ("grpc.http2.bdp_probe", 0),  # see the controller's gateway options
    ]
    creds = grpc.ssl_channel_credentials(
        root_certificates=credentials.ca_pem,
        private_key=credentials.key_pem,
        certificate_chain=credentials.cert_pem,
    )
    return grpc.aio.secure_channel(identity.controller, creds, options=options)


class Session:
    """Runs one stream until it breaks; the caller reconnects."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        spool: Spool,
        spooled: asyncio.Event,
        live: deque[agent_pb2.RunOutput],
        intervals: Intervals,
        on_welcome: Callable[[agent_pb2.Welcome], None],
        on_full_wanted: Callable[[], None],
        inventory_base_seq: Callable[[], int],
        on_run_request: Callable[[agent_pb2.RunRequest], None],
        on_run_cancel: Callable[[str], None],
        policy_json: bytes,
        on_checks: Callable[[agent_pb2.CheckSet], None] | None = None,
    ) -> None:
        self._stub = agent_pb2_grpc.AgentGatewayStub(channel)
        self._spool = spool
        self._spooled = spooled  # set when the spool or live holds something to send
        self._live = live
        self._intervals = intervals
        self._on_welcome = on_welcome
        self._on_full_wanted = on_full_wanted
        self._inventory_base_seq = inventory_base_seq
        self._on_run_request = on_run_request
        self._on_run_cancel = on_run_cancel
        self._policy_json = policy_json
        self._on_checks = on_checks

    async def run(self) -> None:
        # The aio read/write style: no request iterator, the call is written to directly.
        call = self._stub.Connect()  # type: ignore[call-arg]
        try:
            await self._run(call)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise Refused(exc.details() or "unauthenticated") from None
            raise
        finally:
            call.cancel()

    async def _run(
        self, call: grpc.aio.StreamStreamCall[agent_pb2.AgentMessage, agent_pb2.ControllerMessage]
    ) -> None:
        hello = agent_pb2.Hello(
            agent_version=__version__,
            last_acked_seq=self._spool.last_acked,
            hostname=socket.gethostname(),
            inventory_base_seq=self._inventory_base_seq(),
            policy_json=self._policy_json,
        )
        await call.write(agent_pb2.AgentMessage(hello=hello))
        first = await asyncio.wait_for(call.read(), WELCOME_TIMEOUT_S)
        if not isinstance(first, agent_pb2.ControllerMessage) or not first.HasField("welcome"):
            raise ConnectionError("the controller did not answer hello with welcome")
        welcome = first.welcome
        self._spool.continue_after(welcome.last_seq)
        log.info(
            "connected as endpoint %s (controller has up to #%d)",
            welcome.endpoint_id,
            welcome.last_seq,
        )
        self._on_welcome(welcome)
        reader = asyncio.create_task(self._read(call))
        try:
            await self._write(call, welcome.last_seq, reader)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(
        self, call: grpc.aio.StreamStreamCall[agent_pb2.AgentMessage, agent_pb2.ControllerMessage]
    ) -> None:
        while isinstance(message := await call.read(), agent_pb2.ControllerMessage):
            if message.HasField("ack"):
                self._spool.ack(message.ack.seq)
            elif message.HasField("inventory_request"):
                self._on_full_wanted()
            elif message.HasField("run_request"):
                self._on_run_request(message.run_request)
            elif message.HasField("run_cancel"):
                self._on_run_cancel(message.run_cancel.run_id)
            elif message.HasField("checks") and self._on_checks is not None:
                self._on_checks(message.checks)

    async def _write(
        self,
        call: grpc.aio.StreamStreamCall[agent_pb2.AgentMessage, agent_pb2.ControllerMessage],
        sent: int,
        reader: asyncio.Task[None],
    ) -> None:
        next_heartbeat = time.monotonic()
        while not reader.done():
            self._spooled.clear()
            # Live output first: a run's last chunk, queued just before its final update is
            # spooled, goes out ahead of it. Not durable: a chunk whose write fails is gone.
            while self._live:
                await call.write(agent_pb2.AgentMessage(run_output=self._live.popleft()))
            while batch := self._spool.pending(after=sent):
                for seq, payload in batch:
                    durable = agent_pb2.Durable.FromString(payload)
                    durable.seq = seq
                    await call.write(agent_pb2.AgentMessage(durable=durable))
                    sent = seq
            now = time.monotonic()
            if now >= next_heartbeat:
                beat = agent_pb2.Heartbeat(sent_at_ms=int(time.time() * 1000))
                await call.write(agent_pb2.AgentMessage(heartbeat=beat))
                next_heartbeat = now + self._intervals.heartbeat_s
            wake = asyncio.ensure_future(self._spooled.wait())
            await asyncio.wait(
                {wake, reader},
                timeout=max(0.0, next_heartbeat - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            wake.cancel()
        reader.result()  # re-raise what ended the stream
