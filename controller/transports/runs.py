"""Runs on agentless endpoints: the controller itself is their executor.

An agent deduplicates runs by ID, so a run may be sent to it twice; a remote command has no
such guard. So a run is claimed before it is executed, with a conditional UPDATE
(sent → running) that only one controller process can win, and a run found running for an
agentless endpoint after a restart is interrupted, never run again. The result is stored
with the same state names and result shape as an agent's, and wakes the same waiters.

A fan-out hands over its runs together: they are claimed in one transaction and their
results stored in as few as they arrive in, as the group writer does for agents' results
(controller/fleet/grouped.py). A transaction per run was most of a warm fan-out's time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import raiseload

from catalogue import ActionResult, CatalogueError, validate
from controller.runs.dispatch import RunOrder
from controller.runs.updates import Ended
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint, Run
from controller.storage.types import utcnow
from controller.transports.errors import TransportError
from controller.transports.remote import Remote
from controller.transports.targets import ENROLLED_AGENTLESS

log = logging.getLogger(__name__)
UNREACHED = frozenset({"unreachable", "host_key_refused", "authentication_failed"})
RUNS = cast(Table, Run.__table__)
# sent: cancelled before it was claimed.
_STORE = (
    RUNS.update()
    .where(RUNS.c.id == bindparam("run"), or_(RUNS.c.state == "sent", RUNS.c.state == "running"))
    .values(state=bindparam("state"), finished_at=bindparam("at"), result=bindparam("result"))
)


@dataclass(frozen=True)
class Finished:
    run_id: str
    endpoint_id: str
    state: str
    result: dict[str, Any] | None
    started_at: dt.datetime | None
    reached: bool | None  # None: the endpoint was not contacted


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
        self._to_claim: list[tuple[str, RunOrder]] = []
        self._claimer: asyncio.Task[None] | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finished: list[Finished] = []
        self._writer: asyncio.Task[None] | None = None

    def channel(self, endpoint_id: str) -> RemoteChannel | None:
        return RemoteChannel(self, endpoint_id) if endpoint_id in self._agentless else None

    async def refresh(self) -> None:
        """Learn which endpoints are agentless (at start, after enrolment, each sweep)."""
        async with self._sessions() as session:
            found = await session.scalars(select(Endpoint.id).where(*ENROLLED_AGENTLESS))
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
        self._to_claim.append((endpoint_id, order))
        if self._claimer is None or self._claimer.done():
            self._claimer = asyncio.create_task(self._claim_waiting())

    def cancel(self, run_id: str) -> None:
        task = self._tasks.get(run_id)
        if task is not None:
            task.cancel()

    async def _claim_waiting(self) -> None:
        while self._to_claim:
            batch, self._to_claim = self._to_claim, []
            try:
                claimed, endpoints, started = await self._claim(batch)
            except Exception:  # left sent: the dispatcher's sweep offers them again
                log.exception("claiming %d agentless runs failed", len(batch))
                continue
            for endpoint_id, order in batch:
                endpoint = endpoints.get(endpoint_id)
                if order.run_id not in claimed or endpoint is None or order.run_id in self._tasks:
                    continue  # another controller process has it, or it was cancelled
                self._tasks[order.run_id] = asyncio.create_task(
                    self._execute(endpoint, order, started)
                )

    def _forget(self, run_id: str) -> None:
        self._tasks.pop(run_id, None)

    async def _claim(
        self, batch: list[tuple[str, RunOrder]]
    ) -> tuple[set[str], dict[str, Endpoint], dt.datetime]:
        run_ids = [order.run_id for _, order in batch]
        now = utcnow()
        async with self._sessions() as session:
            claimed = await session.scalars(
                update(Run)
                .where(Run.id.in_(run_ids), Run.state == "sent", Run.cancel_requested.is_(False))
                .values(state="running", started_at=now)
                .returning(Run.id)
            )
            won = set(claimed)
            cancelled = await session.scalars(
                update(Run)
                .where(Run.id.in_(run_ids), Run.state == "sent", Run.cancel_requested.is_(True))
                .values(state="cancelled", finished_at=now)
                .returning(Run.id)
            )
            gone = list(cancelled)
            wanted = {endpoint_id for endpoint_id, order in batch if order.run_id in won}
            found = await session.scalars(
                # Neither the tags nor the site: a run needs only where and how to connect.
                select(Endpoint)
                .where(Endpoint.id.in_(wanted))
                .options(raiseload(Endpoint.tags), raiseload(Endpoint.site))
            )
            endpoints = {e.id: e for e in found}
            await session.commit()
        for run_id in gone:
            self._ended(run_id, Ended("cancelled", None, now, None))
        return won, endpoints, now

    async def _execute(self, endpoint: Endpoint, order: RunOrder, started: dt.datetime) -> None:
        def finished(state: str, result: ActionResult | None, reached: bool | None) -> None:
            stored = None if result is None else result.model_dump(mode="json")
            self._forget(order.run_id)
            self._store(Finished(order.run_id, endpoint.id, state, stored, started, reached))

        try:
            params = validate(order.action, order.params)
            target = self._remote.target(endpoint)
            transport = self._remote.transport(endpoint.transport)
        except (CatalogueError, TransportError) as exc:
            code = getattr(exc, "code", "bad_params")
            finished("failed", ActionResult.failure(code, str(exc)), None)
            return
        try:
            result = await transport.run_action(
                target, order.action, params, dry_run=order.dry_run, timeout_s=order.timeout_s
            )
        except asyncio.CancelledError:
            finished("cancelled", None, None)
            return
        except Exception:  # a bug in an action must not leave the run running for ever
            log.exception("run %s on agentless endpoint %s failed", order.run_id, endpoint.id)
            failure = ActionResult.failure("controller_error", "the controller failed to run it")
            finished("failed", failure, None)
            return
        reached = result.error is None or result.error.code not in UNREACHED
        finished("succeeded" if result.ok else "failed", result, reached)

    def _store(self, done: Finished) -> None:
        self._finished.append(done)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_finished())

    async def _write_finished(self) -> None:
        while self._finished:
            batch, self._finished = self._finished, []
            now = utcnow()
            try:
                await self._write(batch, now)
            except Exception:  # left running: interrupted at the next start, never rerun
                log.exception("storing %d agentless run results failed", len(batch))
                continue
            for done in batch:
                self._ended(done.run_id, Ended(done.state, done.started_at, now, done.result))

    async def _write(self, batch: list[Finished], now: dt.datetime) -> None:
        rows = [{"run": d.run_id, "state": d.state, "at": now, "result": d.result} for d in batch]
        reached = sorted({d.endpoint_id for d in batch if d.reached})
        lost = sorted({d.endpoint_id for d in batch if d.reached is False} - set(reached))
        async with self._sessions() as session:
            await session.execute(_STORE, rows)
            if reached:
                await session.execute(
                    update(Endpoint)
                    .where(Endpoint.id.in_(reached))
                    .values(connected=True, last_seen=now)
                )
            if lost:
                await session.execute(
                    update(Endpoint).where(Endpoint.id.in_(lost)).values(connected=False)
                )
            await session.commit()

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
