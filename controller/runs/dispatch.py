"""Getting runs to agents and their outcomes back, at most once per run.

A run is marked sent before it is handed to the connection; if the link dies on the
way, the run is sent again at the next connect, and the agent, which records every run
ID before acting, ignores the copy. Agent updates arrive as durable messages and are
stored exactly once by RunUpdates (updates.py); a stored final update wakes the callers
waiting for that run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import or_, select, update

from controller.fleet.presence import Presence
from controller.runs.updates import Ended, RunUpdates
from controller.storage.db import SessionFactory
from controller.storage.models import Run
from controller.storage.types import utcnow

log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 2.0


@dataclass(frozen=True)
class RunOrder:
    run_id: str
    action: str
    params: dict[str, Any]
    dry_run: bool
    timeout_s: int
    expires_at: dt.datetime | None


@runtime_checkable
class RunChannel(Protocol):
    """What the gateway's connection offers the dispatcher."""

    def send_run(self, order: RunOrder) -> None: ...

    def cancel_run(self, run_id: str) -> None: ...


def _order(run: Run) -> RunOrder:
    return RunOrder(run.id, run.action, run.params, run.dry_run, run.timeout_s, run.expires_at)


# Approval states in which a run may go to its agent (high risk waits while pending).
DELIVERABLE = ("none", "approved")


class RemoteExecutor(Protocol):
    """The controller's own executor for agentless endpoints (controller/transports/runs.py)."""

    def channel(self, endpoint_id: str) -> RunChannel | None: ...

    async def refresh(self) -> None: ...


class Dispatcher:
    def __init__(self, sessions: SessionFactory, presence: Presence) -> None:
        self._sessions = sessions
        self._presence = presence
        self._ended: dict[str, asyncio.Future[Ended]] = {}
        self.updates = RunUpdates(sessions)
        # Set by the container when the controller reaches agentless endpoints.
        self.remote: RemoteExecutor | None = None

    async def wait_ended(self, run_ids: list[str], timeout_s: float) -> dict[str, Ended]:
        """Until every run has ended here, or timeout_s: the outcomes stored by this process.

        A run missing from the answer is still going, or ended through another controller
        process; the caller reads it from the database.
        """
        loop = asyncio.get_running_loop()
        waiting = {
            run_id: self._ended.setdefault(run_id, loop.create_future()) for run_id in run_ids
        }
        try:
            await asyncio.wait_for(asyncio.gather(*waiting.values()), timeout_s)
        except TimeoutError:
            pass
        finally:
            for run_id in run_ids:
                self._ended.pop(run_id, None)
        return {
            run_id: future.result()
            for run_id, future in waiting.items()
            if future.done() and not future.cancelled()
        }

    def ended(self, run_id: str, outcome: Ended) -> None:
        future = self._ended.get(run_id)
        if future is not None and not future.done():
            future.set_result(outcome)

    def _channel(self, endpoint_id: str) -> RunChannel | None:
        connection = self._presence.connection(endpoint_id)
        if isinstance(connection, RunChannel):
            return connection
        return self.remote.channel(endpoint_id) if self.remote is not None else None

    async def endpoint_connected(self, endpoint_id: str) -> None:
        """Send what is queued, resend what may not have arrived, and pending cancels."""
        channel = self._channel(endpoint_id)
        if channel is None:
            return
        async with self._sessions() as session:
            query = (
                select(Run)
                .where(Run.endpoint_id == endpoint_id, Run.state.in_(("queued", "sent", "running")))
                .order_by(Run.created_at)
            )
            runs = list(await session.scalars(query))
            now = utcnow()
            # Only this endpoint's overdue runs: a fleet-wide expiry on every connect would
            # cost a full UPDATE per agent when thousands reconnect after a restart.
            for run in runs:
                if run.state == "queued" and run.expires_at is not None and run.expires_at <= now:
                    run.state, run.finished_at = "expired", now
            to_send = [
                r for r in runs if r.state in ("queued", "sent") and r.approval in DELIVERABLE
            ]
            for run in to_send:
                run.state, run.sent_at = "sent", run.sent_at or now
            await session.commit()
        for run in to_send:
            channel.send_run(_order(run))
        for run in runs:
            if run.cancel_requested:
                channel.cancel_run(run.id)

    def mark_sendable(self, runs: Sequence[Run]) -> None:
        """Before new runs are committed: those an agent here can take now go out as sent.

        Saves the separate read-and-update transaction of dispatch() on the hot path;
        send() hands them over once the commit has made them durable.
        """
        now = utcnow()
        for run in runs:
            if (
                run.state == "queued"
                and run.approval in DELIVERABLE
                and self._channel(run.endpoint_id)
            ):
                run.state, run.sent_at = "sent", now

    def send(self, runs: Sequence[Run]) -> None:
        for run in runs:
            channel = self._channel(run.endpoint_id) if run.state == "sent" else None
            if channel is not None:
                channel.send_run(_order(run))

    async def dispatch(self, run_ids: list[str]) -> None:
        """Send newly created or approved runs to the agents connected here."""
        async with self._sessions() as session:
            runs = list(
                await session.scalars(
                    select(Run).where(
                        Run.id.in_(run_ids), Run.state == "queued", Run.approval.in_(DELIVERABLE)
                    )
                )
            )
            ready = [(r, c) for r in runs if (c := self._channel(r.endpoint_id)) is not None]
            now = utcnow()
            for run, _ in ready:
                run.state, run.sent_at = "sent", now
            await session.commit()
        for run, channel in ready:
            channel.send_run(_order(run))

    def cancel(self, run: Run) -> None:
        channel = self._channel(run.endpoint_id)
        if channel is not None and run.cancel_requested:
            channel.cancel_run(run.id)

    async def expire_due(self) -> int:
        """Runs that never left the controller before their deadline end as expired."""
        now = utcnow()
        async with self._sessions() as session:
            result = await session.execute(
                update(Run)
                .where(Run.state == "queued", Run.expires_at.is_not(None), Run.expires_at <= now)
                .values(state="expired", finished_at=now)
            )
            await session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _sweep(self) -> None:
        # Runs created by another controller process for agents connected to this one.
        # Only ids are read, and only those for agents here are loaded and sent: runs
        # queued for offline endpoints are left alone every time round.
        async with self._sessions() as session:
            queued = await session.execute(
                select(Run.id, Run.endpoint_id).where(
                    Run.state == "queued",
                    Run.approval.in_(DELIVERABLE),
                    or_(Run.expires_at.is_(None), Run.expires_at > utcnow()),
                )
            )
            ids = [run_id for run_id, endpoint_id in queued if self._channel(endpoint_id)]
        if ids:
            await self.dispatch(ids)

    async def run(self) -> None:
        await asyncio.gather(self.updates.run(), self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                if self.remote is not None:  # endpoints enrolled through another process
                    await self.remote.refresh()
                await self.expire_due()
                await self._sweep()
            except Exception:  # a database hiccup must not stop dispatching
                log.exception("run dispatch sweep failed")
