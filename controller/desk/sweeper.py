"""The desk's clock: SLA warnings and breaches, and follow-up reminders, as time passes.

Each ticket is handled in its own transaction, so one that fails (a team without a lead
to escalate to, say) is noted on its timeline and does not hold up the rest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.desk import notify, sla, timeline, workflow
from controller.desk.sla import SlaTransition
from controller.errors import DesksideError
from controller.storage.db import SessionFactory
from controller.storage.models import Ticket
from controller.storage.types import utcnow

log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 30.0
# Look this far ahead for due times, so warnings (at a share of the target) are not late.
HORIZON = dt.timedelta(days=30)
SYSTEM = Actor.system("sla")


async def _breach_actions(session: AsyncSession, ticket: Ticket, t: SlaTransition) -> None:
    what = "time to own" if t.target == "own" else "time to resolve"
    if "raise_priority" in t.actions and ticket.priority > 1:
        # Due times stay: the breach has happened; a higher priority gets it looked at first.
        ticket.priority -= 1
        timeline.record(
            session, ticket, "sla", SYSTEM.name, body=f"priority raised to P{ticket.priority}"
        )
    if "escalate" in t.actions:
        try:
            await workflow.escalate(
                session, SYSTEM, ticket.id, reason=f"SLA breached: {what}", commit=False
            )
        except DesksideError as exc:
            timeline.record(session, ticket, "sla", SYSTEM.name, body=f"could not escalate: {exc}")
    if "notify" in t.actions:  # after escalating, so whoever now holds the ticket hears of it
        await notify.ticket_event(
            session, ticket, "ticket.sla_breach", f"The {what} target was missed.", public=False
        )


async def _evaluate(session: AsyncSession, ticket: Ticket, now: dt.datetime) -> bool:
    transitions = await sla.evaluate(session, ticket, now)
    for t in transitions:
        what = "time to own" if t.target == "own" else "time to resolve"
        timeline.record(
            session,
            ticket,
            "sla",
            SYSTEM.name,
            body=f"{what}: {t.kind} (due {t.due_at.isoformat()})",
            data={"kind": t.kind, "target": t.target, "due_at": t.due_at.isoformat()},
        )
        if t.kind == "warning":
            await notify.ticket_event(
                session,
                ticket,
                "ticket.sla_warning",
                f"The {what} target is near: due {t.due_at.isoformat()}.",
                public=False,
            )
        else:
            await _breach_actions(session, ticket, t)
    return bool(transitions)


async def _follow_up(session: AsyncSession, ticket: Ticket, now: dt.datetime) -> bool:
    timeline.record(
        session,
        ticket,
        "follow_up",
        SYSTEM.name,
        body=f"still waiting on the {ticket.pending_reason}: follow up",
    )
    await notify.ticket_event(
        session,
        ticket,
        "ticket.follow_up",
        f"This ticket has been waiting on the {ticket.pending_reason}: time to follow up.",
        public=False,
    )
    ticket.follow_up_at = now + workflow.DEFAULT_FOLLOW_UP
    return True


class DeskSweeper:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def sweep(self, now: dt.datetime | None = None) -> int:
        """One pass; returns how many tickets it changed."""
        now = now or utcnow()
        async with self._sessions() as session:
            due = list(await session.scalars(sla.due_query(now, HORIZON)))
            follow = list(
                await session.scalars(
                    select(Ticket.id).where(Ticket.state == "pending", Ticket.follow_up_at <= now)
                )
            )
        changed = 0
        for ticket_id, step in [(i, _evaluate) for i in due] + [(i, _follow_up) for i in follow]:
            try:
                async with self._sessions() as session:
                    ticket = await session.get(Ticket, ticket_id)
                    if ticket is None:
                        continue
                    changed += await step(session, ticket, now)
                    await session.commit()
            except Exception:  # one bad ticket must not stop the clock for the others
                log.exception("desk sweep failed on ticket %s", ticket_id)
        return changed

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep()
            except Exception:
                log.exception("desk sweep failed")
