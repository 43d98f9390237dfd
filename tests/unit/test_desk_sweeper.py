"""The desk's clock on a real database: SLA warning, breach actions, follow-up reminders."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from controller.access.actor import Actor
from controller.desk import tickets, workflow
from controller.desk.sweeper import DeskSweeper
from controller.desk.tickets import TicketDraft
from controller.storage.db import SessionFactory
from controller.storage.models import Notification, SlaPolicy, Team, Ticket, TicketEvent, User

SYSTEM = Actor.system("test")
HOUR = dt.timedelta(hours=1)
_ids = itertools.count()


async def _desk(sessions: SessionFactory, actions: list[str]) -> tuple[int, int, int]:
    """A team with a lead, a P3 policy (own 1 h, resolve 4 h, round the clock), a ticket."""
    n = next(_ids)
    async with sessions() as session:
        lead = User(username=f"lead-{n}", role="tier2", email=f"lead{n}@example.org")
        session.add(lead)
        await session.flush()
        team = Team(name=f"desk-{n}", lead_id=lead.id, members=[lead])
        session.add(team)
        session.add(
            SlaPolicy(
                name=f"p3-{n}",
                priority=3,
                own_within_s=3600,
                resolve_within_s=4 * 3600,
                warn_at_percent=75,
                breach_actions=actions,
            )
        )
        await session.commit()
        team_id, lead_id = team.id, lead.id
    async with sessions() as session:
        draft = TicketDraft(
            title=f"Mail is slow {n}",
            impact=2,
            urgency=2,
            team_id=team_id,
            channel="phone",
            requester_email=f"caller{n}@example.org",
        )
        ticket = await tickets.create_ticket(session, SYSTEM, draft)
    return ticket.id, team_id, lead_id


async def _events(sessions: SessionFactory, ticket_id: int, kind: str) -> list[TicketEvent]:
    async with sessions() as session:
        found = await session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
            .order_by(TicketEvent.id)
        )
        return list(found)


async def _ticket(sessions: SessionFactory, ticket_id: int) -> Ticket:
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def test_a_missed_target_warns_then_raises_priority_and_escalates(
    sessions: SessionFactory,
) -> None:
    ticket_id, _team, lead_id = await _desk(sessions, ["notify", "escalate", "raise_priority"])
    created = (await _ticket(sessions, ticket_id)).created_at
    assert (await _ticket(sessions, ticket_id)).own_due_at == created + HOUR
    sweeper = DeskSweeper(sessions)

    assert await sweeper.sweep(created + dt.timedelta(minutes=30)) == 0
    assert await sweeper.sweep(created + dt.timedelta(minutes=50)) == 1  # past 75 % of 1 h
    warned = await _ticket(sessions, ticket_id)
    assert warned.sla_state == "warning" and warned.priority == 3
    assert await sweeper.sweep(created + dt.timedelta(minutes=55)) == 0, "warned once"

    assert await sweeper.sweep(created + dt.timedelta(minutes=61)) == 1
    breached = await _ticket(sessions, ticket_id)
    assert breached.sla_state == "breached" and breached.sla_breached_at is not None
    assert breached.priority == 2
    assert (breached.escalation_level, breached.assignee_id) == (1, lead_id)
    (escalation,) = await _events(sessions, ticket_id, "escalation")
    assert escalation.body == "SLA breached: time to own"
    sla_notes = [e.body for e in await _events(sessions, ticket_id, "sla")]
    assert any("warning" in b for b in sla_notes) and any("breach" in b for b in sla_notes)
    async with sessions() as session:
        sent = await session.scalars(
            select(Notification.event).where(Notification.ticket_id == ticket_id)
        )
        assert "ticket.sla_breach" in set(sent)


async def test_a_paused_ticket_does_not_breach_and_gets_follow_ups(
    sessions: SessionFactory,
) -> None:
    ticket_id, _team, lead_id = await _desk(sessions, ["notify"])
    async with sessions() as session:
        await workflow.assign(session, SYSTEM, ticket_id, assignee_id=lead_id)
    async with sessions() as session:
        await workflow.transition(session, SYSTEM, ticket_id, "pending", reason="vendor")
    paused = await _ticket(sessions, ticket_id)
    assert paused.sla_paused_at is not None and paused.follow_up_at is not None
    sweeper = DeskSweeper(sessions)
    later = paused.follow_up_at + dt.timedelta(minutes=1)
    assert await sweeper.sweep(later) == 1  # the follow-up, and no breach while paused
    after = await _ticket(sessions, ticket_id)
    assert after.sla_state == "paused" and after.sla_breached_at is None
    assert after.follow_up_at == later + workflow.DEFAULT_FOLLOW_UP
    (reminder,) = await _events(sessions, ticket_id, "follow_up")
    assert "vendor" in reminder.body
    assert await sweeper.sweep(later + dt.timedelta(minutes=5)) == 0, "one reminder a day"


async def test_an_escalation_that_cannot_happen_is_noted_not_fatal(
    sessions: SessionFactory,
) -> None:
    ticket_id, team_id, _lead = await _desk(sessions, ["escalate"])
    async with sessions() as session:
        team = await session.get(Team, team_id)
        assert team is not None
        team.lead_id = None
        await session.commit()
    created = (await _ticket(sessions, ticket_id)).created_at
    assert await DeskSweeper(sessions).sweep(created + 2 * HOUR) == 1
    notes = [e.body for e in await _events(sessions, ticket_id, "sla")]
    assert any(b.startswith("could not escalate") for b in notes), notes
