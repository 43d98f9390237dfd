"""Runs on agentless endpoints: the controller itself is their executor.

An agent deduplicates runs by ID, so a run may be sent to it twice; a remote command has no
such guard. So a run is claimed before it is executed, with a conditional UPDATE
(sent → running) that only one controller process can win, and a run found sent or running
for an agentless endpoint after a restart is interrupted, never run again. The result is
stored with the same state names and result shape as an agent's, and wakes the same waiters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select, update

from catalogue import ActionResult, CatalogueError, validate
from controller.fleet.agentless import mark_reached
from controller.runs.dispatch import RunOrder
from controller.runs.updates import Ended
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint, Run
from controller.storage.types import utcnow
from controller.transports.errors import TransportError
from controller.transports.remote import Remote

log = logging.getLogger(__name__)
UNREACHED = frozenset({"unreachable", "host_key_refused", "authentication_failed"})


class RemoteChannel:
    """A RunChannel (controller/runs/dispatch.py) for one agentless endpoint."""

    def __init__(self, runs: RemoteRuns, endpoint_id: str) -> None:
        self._runs, self._endpoint_id = runs, endpoint_id

    def send_run(self, order: RunOrder) -> None:
        self._runs.start(self._endpoint_id, order)

    def cancel_run(self, run_id: str) -> None:
        self._runs.cancel(run_id)


class RemoteRuns:
    def __init__(
        self, sessions: SessionFactory, remote: Remote, ended: Callable[[str, Ended], None]
    ) -> None:
        self._sessions = sessions
        self._remote = remote
        self._ended = ended
        self._agentless: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def channel(self, endpoint_id: str) -> RemoteChannel | None:
        return RemoteChannel(self, endpoint_id) if endpoint_id in self._agentless else None

    async def refresh(self) -> None:
        """Learn which endpoints are agentless (at start, after enrolment, each sweep)."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(Endpoint.id).where(
                    Endpoint.transport != "agent", Endpoint.revoked_at.is_(None)
                )
            )
            self._agentless = set(found)

    async def interrupt_left_running(self) -> int:
        """At start: runs this controller had under way when it stopped cannot be resumed,
        and must not be run again (the command may have done its work)."""
        async with self._sessions() as session:
            agentless = select(Endpoint.id).where(Endpoint.transport != "agent")
            stopped = await session.execute(
                update(Run)
                .where(Run.state == "running", Run.endpoint_id.in_(agentless))
                .values(state="interrupted", finished_at=utcnow())
            )
            await session.commit()
        return int(stopped.rowcount or 0)  # type: ignore[attr-defined]

    def start(self, endpoint_id: str, order: RunOrder) -> None:
        if order.run_id in self._tasks:
            return
        task = asyncio.create_task(self._execute(endpoint_id, order))
        self._tasks[order.run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(order.run_id, None))

    def cancel(self, run_id: str) -> None:
        task = self._tasks.get(run_id)
        if task is not None:
            task.cancel()

    async def _execute(self, endpoint_id: str, order: RunOrder) -> None:
        try:
            await self._claimed_and_run(endpoint_id, order)
        except asyncio.CancelledError:
            await self._finish(order.run_id, "cancelled", None)
        except Exception:  # stored as failed below; a bug here must not stay silent
            log.exception("run %s on agentless endpoint %s failed", order.run_id, endpoint_id)
            await self._finish(
                order.run_id,
                "failed",
                ActionResult.failure("controller_error", "the controller failed to run it"),
            )

    async def _claimed_and_run(self, endpoint_id: str, order: RunOrder) -> None:
        async with self._sessions() as session:
            claimed = await session.execute(
                update(Run)
                .where(Run.id == order.run_id, Run.state == "sent", Run.cancel_requested.is_(False))
                .values(state="running", started_at=utcnow())
                .returning(Run.id)
            )
            endpoint = await session.get(Endpoint, endpoint_id)
            await session.commit()
        if claimed.first() is None or endpoint is None:
            return  # another controller process has it, or it was cancelled meanwhile
        try:
            params = validate(order.action, order.params)
            target = self._remote.target(endpoint)
            transport = self._remote.transport(endpoint.transport)
        except (CatalogueError, TransportError) as exc:
            code = getattr(exc, "code", "bad_params")
            await self._finish(order.run_id, "failed", ActionResult.failure(code, str(exc)))
            return
        result = await transport.run_action(
            target, order.action, params, dry_run=order.dry_run, timeout_s=order.timeout_s
        )
        await self._finish(order.run_id, "succeeded" if result.ok else "failed", result)
        async with self._sessions() as session:
            if result.error is not None and result.error.code in UNREACHED:
                reached = await session.get(Endpoint, endpoint_id)
                if reached is not None:
                    reached.connected = False
                    await session.commit()
            else:
                await mark_reached(session, endpoint_id, utcnow())

    async def _finish(self, run_id: str, state: str, result: ActionResult | None) -> None:
        now = utcnow()
        stored_result = None if result is None else result.model_dump(mode="json")
        async with self._sessions() as session:
            stored = await session.execute(
                update(Run)
                # sent: cancelled before it was claimed.
                .where(Run.id == run_id, Run.state.in_(("sent", "running")))
                .values(state=state, finished_at=now, result=stored_result)
                .returning(Run.started_at)
            )
            row = stored.first()
            await session.commit()
        if row is not None:
            started: dt.datetime | None = row[0]
            self._ended(run_id, Ended(state, started, now, stored_result))

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
