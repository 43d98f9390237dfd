"""Getting runs to agents and their outcomes back, at most once per run.

A run is marked sent before it is handed to the connection; if the link dies on the
way, the run is sent again at the next connect, and the agent, which records every run
ID before acting, ignores the copy. Agent updates arrive as durable messages and are
stored in the transaction that takes their sequence number, so none is applied twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError
from sqlalchemy import or_, select, update

from catalogue import ActionResult
from controller.fleet.presence import Presence
from controller.fleet.sequence import claim
from controller.runs.service import TERMINAL
from controller.storage.db import SessionFactory
from controller.storage.models import Run
from controller.storage.types import utcnow

log = logging.getLogger(__name__)
AGENT_STATES = frozenset({"running"}) | TERMINAL
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


class Dispatcher:
    def __init__(self, sessions: SessionFactory, presence: Presence) -> None:
        self._sessions = sessions
        self._presence = presence
        self._ended: dict[str, asyncio.Event] = {}

    async def wait_ended(self, run_ids: list[str], timeout_s: float) -> None:
        """Until every run has ended here, or timeout_s; the caller reads the outcome.

        Woken as this process stores an agent's final update; a run that ends through
        another controller process is seen by the caller's own read afterwards.
        """
        events = [self._ended.setdefault(run_id, asyncio.Event()) for run_id in run_ids]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout_s)
        except TimeoutError:
            pass
        finally:
            for run_id in run_ids:
                self._ended.pop(run_id, None)

    def ended(self, run_id: str) -> None:
        event = self._ended.get(run_id)
        if event is not None:
            event.set()

    def _channel(self, endpoint_id: str) -> RunChannel | None:
        connection = self._presence.connection(endpoint_id)
        return connection if isinstance(connection, RunChannel) else None

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
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.expire_due()
                await self._sweep()
            except Exception:  # a database hiccup must not stop dispatching
                log.exception("run dispatch sweep failed")


async def apply_run_update(
    sessions: SessionFactory,
    endpoint_id: str,
    seq: int,
    *,
    run_id: str,
    state: str,
    result: dict[str, Any] | None,
    at: dt.datetime,
) -> bool:
    """Store an agent's run update exactly once; False when it was a resend or unusable."""
    async with sessions() as session:
        if not await claim(session, endpoint_id, seq):
            return False
        run = await session.get(Run, run_id)
        if run is None or run.endpoint_id != endpoint_id or state not in AGENT_STATES:
            log.warning(
                "endpoint %s sent an unusable update for run %s (%s)", endpoint_id, run_id, state
            )
            await session.commit()  # the sequence is still taken
            return False
        if run.state not in TERMINAL:
            if state == "running":
                run.state, run.started_at = "running", at
            else:
                run.state, run.finished_at = state, at
                run.started_at = run.started_at or at
                run.result = _checked_result(result)
        await session.commit()
        return True


def _checked_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    try:
        return ActionResult.model_validate(result).model_dump(mode="json")
    except ValidationError as exc:
        message = f"the agent's result did not have the catalogue's shape: {exc.errors()[0]['msg']}"
        return ActionResult.failure("bad_result", message).model_dump(mode="json")
