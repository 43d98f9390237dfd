"""The loop: a check that starts failing opens one ticket, runs its playbook, and the check's
own next results verify the fix; a check that recovers closes its ticket with the evidence.

One ticket per endpoint and check at a time (a failing check updates the ticket it already
has). Flap control: after max_fixes fixes within fix_window_s the loop stops fixing and hands
the ticket to a person, once; after a fix it waits cooldown_s before fixing again. A
maintenance window, a silence or the global pause hold everything but the recording of
results. The check result's correlation ID goes with the ticket's entries and the runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.automation import holds
from controller.desk import tickets, timeline, workflow
from controller.desk.lifecycle import OPEN_STATES
from controller.desk.tickets import TicketDraft
from controller.errors import DesksideError
from controller.storage.db import SessionFactory
from controller.storage.models import (
    Check,
    CheckResult,
    CheckState,
    Endpoint,
    PlaybookRun,
    Ticket,
)
from controller.storage.types import utcnow

log = logging.getLogger(__name__)
# Starts a playbook on one endpoint for a ticket, in the caller's transaction: returns the
# playbook run's id. The playbook engine provides it; the loop does not import the engine.
StartPlaybook = Callable[[AsyncSession, Actor, str, dict[str, Any], str, int], Awaitable[str]]


def _actor(result: CheckResult) -> Actor:
    return Actor.system("monitoring", request_id=result.correlation_id)


def _recent_fixes(state: CheckState, check: Check, now: dt.datetime) -> list[str]:
    since = now - dt.timedelta(seconds=check.fix_window_s)
    return [at for at in state.fixes if dt.datetime.fromisoformat(at) > since]


SWEEP_INTERVAL_S = 2.0
UNFINISHED = ("queued", "running")


class Loop:
    def __init__(self, sessions: SessionFactory, start_playbook: StartPlaybook | None) -> None:
        self._sessions = sessions
        self._start_playbook = start_playbook

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep()
            except Exception:  # a database hiccup must not stop the loop
                log.exception("loop sweep failed")

    async def sweep(self, now: dt.datetime | None = None) -> None:
        """Checks still failing after a fix: once the fix has ended and the cool-down has
        passed, fix again (within the limit); a playbook that could not fix it ends the loop
        for that ticket, once."""
        now = now or utcnow()
        async with self._sessions() as session:
            stuck = list(
                await session.execute(
                    select(CheckState.check_id, CheckState.endpoint_id).where(
                        CheckState.status == "fail",
                        CheckState.ticket_id.is_not(None),
                        CheckState.escalated.is_(False),
                    )
                )
            )
        for check_id, endpoint_id in stuck:
            try:
                async with self._sessions() as session:
                    await self._retry(session, check_id, endpoint_id, now)
                    await session.commit()
            except Exception:
                log.exception("loop sweep failed for check %s on %s", check_id, endpoint_id)

    async def _retry(
        self, session: AsyncSession, check_id: int, endpoint_id: str, now: dt.datetime
    ) -> None:
        check = await session.get(Check, check_id)
        state = await session.get(CheckState, (check_id, endpoint_id))
        if check is None or state is None or state.ticket_id is None:
            return
        ticket = await session.get(Ticket, state.ticket_id)
        result = await session.get(CheckResult, state.last_result_id or 0)
        if ticket is None or ticket.state not in OPEN_STATES or result is None:
            return
        if await holds.paused(session) or await holds.in_maintenance(session, endpoint_id, now):
            return
        if state.silenced_until is not None and state.silenced_until > now:
            return
        if state.playbook_run_id:
            fix = await session.get(PlaybookRun, state.playbook_run_id)
            if fix is not None and fix.state in UNFINISHED:
                return
            if fix is not None and fix.state == "succeeded":
                finished = fix.finished_at or now
                if result.at <= finished:
                    return  # the check has not looked since the fix: let it verify first
            if fix is not None and fix.state in ("failed", "escalated"):
                # The playbook has said it cannot: one hand-over to a person, no loop.
                state.escalated = True
                if fix.state == "failed":
                    reason = f"playbook {fix.playbook} could not fix {check.name}: {fix.summary}"
                    await self._escalate(session, ticket, result, reason[:2000])
                return
        await self._fix(session, check, state, ticket, result, now)

    async def on_change(
        self, check_id: int, endpoint_id: str, old: str | None, new: str, result_id: int
    ) -> None:
        """Called once a check's status on an endpoint has changed and been stored (old is
        None for the endpoint's first result of the check)."""
        try:
            async with self._sessions() as session:
                await self._step(session, check_id, endpoint_id, old, new, result_id)
                await session.commit()
        except Exception:  # the loop must never lose the result that triggered it
            log.exception("loop failed for check %s on %s", check_id, endpoint_id)

    async def _step(
        self,
        session: AsyncSession,
        check_id: int,
        endpoint_id: str,
        old: str | None,
        new: str,
        result_id: int,
    ) -> None:
        check = await session.get(Check, check_id)
        state = await session.get(CheckState, (check_id, endpoint_id))
        result = await session.get(CheckResult, result_id)
        endpoint = await session.get(Endpoint, endpoint_id)
        if check is None or state is None or result is None or endpoint is None:
            return
        now = utcnow()
        if new == "ok":
            state.acknowledged_by = None  # an acknowledgement lasts until the check recovers
        if await holds.paused(session) or await holds.in_maintenance(session, endpoint_id, now):
            return
        if state.silenced_until is not None and state.silenced_until > now:
            return
        ticket = await session.get(Ticket, state.ticket_id) if state.ticket_id else None
        if new == "fail":
            ticket = await self._ticket_for(session, check, endpoint, ticket, result, now)
            state.ticket_id = ticket.id
            await self._fix(session, check, state, ticket, result, now)
        elif new == "ok" and old in ("fail", "warn") and ticket and ticket.state in OPEN_STATES:
            await self._close(session, check, state, ticket, result)

    async def _ticket_for(
        self,
        session: AsyncSession,
        check: Check,
        endpoint: Endpoint,
        ticket: Ticket | None,
        result: CheckResult,
        now: dt.datetime,
    ) -> Ticket:
        """The ticket this failure belongs to: the open one, the one resolved within the fix
        window (reopened: a flapping fault is one story), or a new one linked to the last."""
        if ticket is not None and ticket.state in OPEN_STATES:
            _note(session, ticket, check, result)
            return ticket
        window = dt.timedelta(seconds=check.fix_window_s)
        parent = None
        if ticket is not None and ticket.resolved_at is not None:
            if ticket.state == "resolved" and now - ticket.resolved_at < window:
                try:
                    await workflow.transition(
                        session, _actor(result), ticket.id, "in_progress", commit=False
                    )
                except DesksideError:  # nobody holds it to reopen: a new ticket, linked
                    parent = ticket.id
                else:
                    return await self._ticket_for(session, check, endpoint, ticket, result, now)
            else:
                parent = ticket.id
        return await self._open(session, check, endpoint, result, parent)

    async def _open(
        self,
        session: AsyncSession,
        check: Check,
        endpoint: Endpoint,
        result: CheckResult,
        parent_id: int | None,
    ) -> Ticket:
        draft = TicketDraft(
            title=f"{check.name} failing on {endpoint.hostname}"[:300],
            description=result.message,
            channel="monitoring",
            impact=2,
            urgency=2,
            team_id=check.team_id,
            site_id=endpoint.site_id,
            endpoint_ids=[endpoint.id],
            requester_name="monitoring",
            parent_id=parent_id,
        )
        ticket = await tickets.create_ticket(session, _actor(result), draft, commit=False)
        _note(session, ticket, check, result)
        return ticket

    async def _fix(
        self,
        session: AsyncSession,
        check: Check,
        state: CheckState,
        ticket: Ticket,
        result: CheckResult,
        now: dt.datetime,
    ) -> None:
        fixes = _recent_fixes(state, check, now)
        state.fixes = fixes
        if len(fixes) >= check.max_fixes:
            if not state.escalated:
                state.escalated = True
                reason = (
                    f"{check.name} failed again after {len(fixes)} automatic fixes within "
                    f"{check.fix_window_s} s: automatic fixing stopped, a person should look"
                )
                await self._escalate(session, ticket, result, reason)
            return
        if state.last_fix_at is not None and now - state.last_fix_at < dt.timedelta(
            seconds=check.cooldown_s
        ):
            return
        if check.playbook is None or self._start_playbook is None:
            return  # the ticket waits for a person
        run_id = await self._start_playbook(
            session,
            _actor(result),
            check.playbook,
            check.playbook_inputs,
            state.endpoint_id,
            ticket.id,
        )
        state.playbook_run_id = run_id
        state.fixes = [*fixes, now.isoformat()]
        state.last_fix_at = now

    async def _escalate(
        self, session: AsyncSession, ticket: Ticket, result: CheckResult, reason: str
    ) -> None:
        try:
            await workflow.escalate(
                session, _actor(result), ticket.id, reason=reason, kind="hierarchical", commit=False
            )
        except DesksideError as exc:  # no lead to go to: the ticket still says why
            timeline.record(session, ticket, "check", "monitoring", body=f"{reason} ({exc})")

    async def _close(
        self,
        session: AsyncSession,
        check: Check,
        state: CheckState,
        ticket: Ticket,
        result: CheckResult,
    ) -> None:
        how = (
            f"fixed by playbook {check.playbook} (playbook run {state.playbook_run_id})"
            if state.playbook_run_id
            else "recovered by itself"
        )
        resolution = f"{check.name} {how}; verified by check result #{result.id}: {result.message}"
        _note(session, ticket, check, result)
        await workflow.transition(
            session, _actor(result), ticket.id, "resolved", resolution=resolution, commit=False
        )
        # The ticket stays the check's: a relapse within the fix window reopens it. A check
        # handed to a person for flapping stays handed over until its fixes age out.
        state.playbook_run_id = None
        if len(_recent_fixes(state, check, utcnow())) < check.max_fixes:
            state.escalated = False


def _note(session: AsyncSession, ticket: Ticket, check: Check, result: CheckResult) -> None:
    """The check result on the ticket's timeline, with its value and evidence."""
    timeline.record(
        session,
        ticket,
        "check",
        "monitoring",
        body=f"{check.check} {result.status}: {result.message}",
        data=_result_data(check, result),
    )


def _result_data(check: Check, result: CheckResult) -> dict[str, Any]:
    return {
        "check_id": check.id,
        "result_id": result.id,
        "status": result.status,
        "value": result.value,
        "evidence": result.evidence,
        "correlation_id": result.correlation_id,
    }
