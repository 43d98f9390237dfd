"""The AgentGateway service: one bidirectional stream per connected agent."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any, TypeVar

import grpc

from controller.checks.results import Measured
from controller.checks.targets import CheckOrder
from controller.container import Controller
from controller.errors import Unauthenticated
from controller.fleet import enrollment
from controller.fleet.inventory import InventoryMessage, Outcome, apply_inventory
from controller.gateway.in_order import InOrderAcks
from controller.pki import certificate_serial
from controller.runs.dispatch import RunOrder
from controller.runs.updates import RunUpdate
from protos.deskside.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[agent_pb2.AgentMessage, agent_pb2.ControllerMessage]
HELLO_TIMEOUT_S = 10.0
T = TypeVar("T")


def _peer_identity(context: Context) -> tuple[str, str] | None:
    """(endpoint id, certificate serial) from the verified client certificate, if any."""
    auth = context.auth_context()
    names, pems = list(auth.get("x509_common_name", ())), list(auth.get("x509_pem_cert", ()))
    if not names or not pems:
        return None
    return names[0].decode(), certificate_serial(pems[0])


def _policy(raw: bytes) -> dict[str, object] | None:
    try:
        policy = json.loads(raw) if raw else None
    except ValueError:
        return None
    return policy if isinstance(policy, dict) else None


class AgentConnection:
    """The controller's side of one stream: an outbox drained by one writer task."""

    def __init__(self, endpoint_id: str) -> None:
        self.endpoint_id = endpoint_id
        self.outbox: asyncio.Queue[agent_pb2.ControllerMessage | None] = asyncio.Queue()
        self.closed_reason: str | None = None

    def send(self, message: agent_pb2.ControllerMessage) -> None:
        self.outbox.put_nowait(message)

    def close(self, reason: str) -> None:
        self.closed_reason = reason
        self.outbox.put_nowait(None)

    def send_run(self, order: RunOrder) -> None:
        expires_ms = int(order.expires_at.timestamp() * 1000) if order.expires_at else 0
        request = agent_pb2.RunRequest(
            run_id=order.run_id,
            action=order.action,
            params_json=json.dumps(order.params).encode(),
            dry_run=order.dry_run,
            timeout_ms=order.timeout_s * 1000,
            expires_at_ms=expires_ms,
        )
        self.send(agent_pb2.ControllerMessage(run_request=request))

    def cancel_run(self, run_id: str) -> None:
        self.send(agent_pb2.ControllerMessage(run_cancel=agent_pb2.RunCancel(run_id=run_id)))

    def send_checks(self, orders: list[CheckOrder]) -> None:
        definitions = [
            agent_pb2.CheckDefinition(
                id=o.id,
                name=o.name,
                check=o.check,
                params_json=json.dumps(o.params).encode(),
                thresholds_json=json.dumps(o.thresholds).encode(),
                interval_s=o.interval_s,
                cron=o.cron,
                version=o.version,
            )
            for o in orders
        ]
        self.send(agent_pb2.ControllerMessage(checks=agent_pb2.CheckSet(checks=definitions)))


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _inventory_message(seq: int, inv: agent_pb2.Inventory) -> InventoryMessage:
    return InventoryMessage(
        seq=seq,
        full=inv.full,
        base_seq=inv.base_seq,
        collected_at=_time(inv.collected_at_ms),
        sections={name: json.loads(raw) for name, raw in inv.sections.items()},
        removed=list(inv.removed_sections),
    )


def _measured(endpoint_id: str, seq: int, result: agent_pb2.CheckResultMessage) -> Measured:
    def decoded(raw: bytes) -> object:
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return {"unreadable": "the agent sent unreadable JSON"}

    evidence = decoded(result.evidence_json)
    return Measured(
        endpoint_id=endpoint_id,
        seq=seq,
        check_id=result.check_id,
        version=result.version,
        status=result.status,
        value=decoded(result.value_json),
        message=result.message,
        evidence=evidence if isinstance(evidence, dict) else {"raw": evidence},
        at=_time(result.at_ms),
    )


class AgentGatewayService(agent_pb2_grpc.AgentGatewayServicer):
    def __init__(self, controller: Controller) -> None:
        self._controller = controller
        self._finishing: set[asyncio.Task[Any]] = set()

    def _begin(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task that runs to its end even if the RPC that started it is cancelled.

        grpc cancels the handler when the peer vanishes (a killed agent), possibly while it
        is connecting or already cleaning up. A cancel inside a database write would leave
        the endpoint marked connected, or an asyncpg connection mid-transaction holding row
        locks that block every later write to the endpoint.
        """
        task = asyncio.create_task(work)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        return task

    async def _to_the_end(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.shield(self._begin(work))

    # The aio read/write style: responses go through context.write, so nothing is returned.
    async def Connect(  # type: ignore[override]
        self,
        request_iterator: AsyncIterator[agent_pb2.AgentMessage],
        context: Context,
    ) -> None:
        identity = _peer_identity(context)
        if identity is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
        endpoint_id, serial = identity
        try:
            async with self._controller.sessions() as session:
                endpoint = await enrollment.authenticate_agent(session, endpoint_id, serial)
                last_seq, inventory_seq = endpoint.last_seq, endpoint.inventory_seq
        except Unauthenticated as exc:
            log.warning("refused agent %s: %s", context.peer(), exc)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))

        first = await asyncio.wait_for(context.read(), HELLO_TIMEOUT_S)
        if not isinstance(first, agent_pb2.AgentMessage) or not first.HasField("hello"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be hello")
        hello = first.hello
        connection = AgentConnection(endpoint_id)
        # From here on the stream ends through _ended, however the handler is left: grpc
        # cancels it the moment the peer vanishes, wherever it is awaiting.
        connecting = self._begin(
            self._controller.presence.connected(
                endpoint_id,
                connection,
                hello.agent_version,
                hello.hostname,
                _policy(hello.policy_json),
            )
        )
        acks = InOrderAcks(
            lambda seq: connection.send(agent_pb2.ControllerMessage(ack=agent_pb2.Ack(seq=seq)))
        )
        tasks: tuple[asyncio.Task[None], ...] = ()
        try:
            await asyncio.shield(connecting)
            connection.send(self._welcome(endpoint_id, last_seq, inventory_seq))
            log.info("agent %s connected from %s", endpoint_id, context.peer())
            await self._controller.dispatcher.endpoint_connected(endpoint_id)
            await self._controller.checks.send_set(endpoint_id, connection)
            tasks = (
                asyncio.create_task(self._write(connection, context)),
                asyncio.create_task(self._read(connection, context, acks)),
                asyncio.create_task(acks.run()),
            )
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await self._to_the_end(self._ended(connection, connecting, tasks, acks))
        if connection.closed_reason:
            await context.abort(grpc.StatusCode.UNAVAILABLE, connection.closed_reason)

    def _welcome(
        self, endpoint_id: str, last_seq: int, inventory_seq: int
    ) -> agent_pb2.ControllerMessage:
        settings = self._controller.settings
        welcome = agent_pb2.Welcome(
            endpoint_id=endpoint_id,
            last_seq=last_seq,
            inventory_seq=inventory_seq,
            heartbeat_interval_ms=int(settings.heartbeat_interval_s * 500),
            inventory_interval_ms=int(settings.inventory_interval_s * 1000),
            server_time_ms=int(time.time() * 1000),
        )
        return agent_pb2.ControllerMessage(welcome=welcome)

    async def _ended(
        self,
        connection: AgentConnection,
        connecting: asyncio.Task[None],
        tasks: Sequence[asyncio.Task[None]],
        acks: InOrderAcks,
    ) -> None:
        endpoint_id = connection.endpoint_id
        await asyncio.gather(connecting, return_exceptions=True)  # marked connected first
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("stream of agent %s failed", endpoint_id, exc_info=result)
                connection.closed_reason = connection.closed_reason or "controller error"
        await acks.settle()
        self._controller.checks.results.forgive(endpoint_id)
        self._controller.dispatcher.updates.forgive(endpoint_id)
        await self._controller.presence.disconnected(endpoint_id, connection)
        reason = connection.closed_reason or "stream ended"
        log.info("agent %s disconnected: %s", endpoint_id, reason)

    async def _write(self, connection: AgentConnection, context: Context) -> None:
        while (message := await connection.outbox.get()) is not None:
            await context.write(message)

    async def _read(self, connection: AgentConnection, context: Context, acks: InOrderAcks) -> None:
        # Agents send a heartbeat every half window, so a whole window of silence means
        # the link is gone even though no TCP reset arrived (a pulled cable).
        window = self._controller.settings.heartbeat_interval_s
        presence = self._controller.presence
        while True:
            try:
                message = await asyncio.wait_for(context.read(), window)
            except TimeoutError:
                connection.closed_reason = f"no message for {window:g} s"
                return
            if not isinstance(message, agent_pb2.AgentMessage):
                await acks.drain()  # the agent said goodbye: acknowledge what it sent
                return
            presence.heard(connection.endpoint_id)
            if message.HasField("durable"):
                durable = message.durable
                if durable.seq < 1:  # 0 marks what the controller measured itself
                    connection.closed_reason = "a durable message without a sequence number"
                    return
                if durable.HasField("check_result"):
                    measured = _measured(connection.endpoint_id, durable.seq, durable.check_result)
                    await acks.add(durable.seq, self._controller.checks.store(measured))
                    continue
                await acks.drain()  # the check results before it take their seqs first
                await self._durable(connection, durable)
            elif message.HasField("run_output"):
                output = message.run_output
                await self._controller.run_output.accept(
                    connection.endpoint_id, output.run_id, output.offset, output.chunk
                )

    async def _durable(self, connection: AgentConnection, durable: agent_pb2.Durable) -> None:
        if durable.HasField("run_update"):
            await self._run_update(connection, durable.seq, durable.run_update)
        elif durable.HasField("inventory"):
            try:
                msg = _inventory_message(durable.seq, durable.inventory)
            except ValueError as exc:
                # Acknowledged so the agent drops it: resending would fail the same way.
                log.error(
                    "endpoint %s sent bad inventory #%d: %s",
                    connection.endpoint_id,
                    durable.seq,
                    exc,
                )
                connection.send(agent_pb2.ControllerMessage(ack=agent_pb2.Ack(seq=durable.seq)))
                return
            outcome = await self._to_the_end(self._applied(connection.endpoint_id, msg))
            connection.send(agent_pb2.ControllerMessage(ack=agent_pb2.Ack(seq=durable.seq)))
            if outcome is Outcome.NEED_FULL:
                connection.send(
                    agent_pb2.ControllerMessage(
                        inventory_request=agent_pb2.InventoryRequest(full=True)
                    )
                )

    async def _applied(self, endpoint_id: str, msg: InventoryMessage) -> Outcome:
        async with self._controller.sessions() as session:
            return await apply_inventory(session, endpoint_id, msg)

    async def _run_update(
        self, connection: AgentConnection, seq: int, update: agent_pb2.RunUpdate
    ) -> None:
        try:
            result = json.loads(update.result_json) if update.result_json else None
        except ValueError:
            result = {"error": {"code": "bad_result", "message": "the agent sent unreadable JSON"}}
        dispatcher = self._controller.dispatcher
        stored = await dispatcher.updates.store(
            RunUpdate(
                endpoint_id=connection.endpoint_id,
                seq=seq,
                run_id=update.run_id,
                state=update.state,
                result=result if isinstance(result, dict) else None,
                at=_time(update.at_ms),
                started_at=_time(update.started_at_ms) if update.started_at_ms else None,
            )
        )
        connection.send(agent_pb2.ControllerMessage(ack=agent_pb2.Ack(seq=seq)))
        if stored is not None and stored.state != "running":
            dispatcher.ended(update.run_id, stored)
