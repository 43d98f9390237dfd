"""Moving tickets along: state changes, comments, assignment and escalation.

"Owned" means an analyst has the ticket in hand (in_progress): the time-to-own target
measures how long a caller waited for that, not how fast a routing rule fired.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk import diagnostics, notify, routing, sla, timeline
from controller.desk.lifecycle import CLOCK_STOPPING_REASONS, check_move
from controller.desk.tickets import snapshot
from controller.desk.visibility import get_visible, is_staff
from controller.errors import Conflict, InvalidInput
from controller.storage.models import Team, Ticket, User
from controller.storage.types import utcnow

# A ticket left waiting on someone outside the desk gets a reminder after this long.
DEFAULT_FOLLOW_UP = dt.timedelta(hours=24)
ESCALATION_KINDS = ("functional", "hierarchical")
# Moves a requester may make on their own ticket: confirm the fix, or say it is not fixed.
_REQUESTER_MOVES = frozenset({("resolved", "closed"), ("resolved", "in_progress")})


async def _enter(session: AsyncSession, ticket: Ticket, target: str, now: dt.datetime) -> None:
    """Side effects of arriving in a state (the move is already known to be legal)."""
    leaving = ticket.state
    if leaving == "pending":
        ticket.pending_reason = None
        ticket.follow_up_at = None
        if ticket.sla_paused_at is not None:
            await sla.resume(session, ticket, now)
    if target == "in_progress" and ticket.owned_at is None:
        ticket.owned_at = now
    if target == "resolved":
        ticket.resolved_at = now
        sla.met(ticket, now)
    if target == "closed":
        ticket.closed_at = now
    if leaving == "resolved" and target == "in_progress":  # reopened: the clock runs again
        ticket.resolved_at = None
        await sla.start(session, ticket, now)
    ticket.state = target
    ticket.updated_at = now


async def transition(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    state: str,
    *,
    reason: str | None = None,
    resolution: str = "",
    commit: bool = True,
) -> Ticket:
    ticket = await get_visible(session, actor, ticket_id)
    staff_move = actor.can(Permission.TICKETS_WRITE)
    if not staff_move and (ticket.state, state) not in _REQUESTER_MOVES:
        if is_staff(actor):
            actor.require(Permission.TICKETS_WRITE)
        raise Conflict("a requester can only close or reopen a resolved ticket")
    check_move(
        ticket.state,
        state,
        reason=reason,
        resolution=resolution or ticket.resolution,
        has_assignee=ticket.assignee_id is not None,
    )
    before = snapshot(ticket)
    now = utcnow()
    await _enter(session, ticket, state, now)
    if state == "pending":
        ticket.pending_reason = reason
        if reason in CLOCK_STOPPING_REASONS:
            sla.pause(ticket, now)
            ticket.follow_up_at = now + DEFAULT_FOLLOW_UP
    if state == "resolved" and resolution:
        ticket.resolution = resolution
    body = f"{before['state']} → {state}" + (f" ({reason})" if reason else "")
    timeline.record(
        session,
        ticket,
        "state",
        actor.name,
        body=body,
        public=True,
        data={"from": before["state"], "to": state, "reason": reason, "resolution": resolution},
    )
    summary = f"The ticket is now {state.replace('_', ' ')}." + (
        f"\n\nResolution: {ticket.resolution}" if state == "resolved" else ""
    )
    await notify.ticket_event(
        session, ticket, "ticket.state", summary, public=True, correlation_id=actor.request_id
    )
    audit.record(
        session, actor, "transition", "ticket", ticket.id, before=before, after=snapshot(ticket)
    )
    await (session.commit() if commit else session.flush())
    return ticket


async def comment(
    session: AsyncSession, actor: Actor, ticket_id: int, body: str, *, public: bool = True
) -> Ticket:
    """Add a comment. A requester's reply to a ticket waiting on them puts it back to work."""
    ticket = await get_visible(session, actor, ticket_id)
    staff = actor.can(Permission.TICKETS_WRITE)
    if not staff:
        public = True  # requesters have no internal notes
    await add_comment(
        session,
        ticket,
        actor.name,
        body,
        public=public,
        from_requester=not staff,
        correlation_id=actor.request_id,
    )
    audit.record(session, actor, "comment", "ticket", ticket.id, after={"public": public})
    await session.commit()
    return ticket


async def add_comment(
    session: AsyncSession,
    ticket: Ticket,
    author: str,
    body: str,
    *,
    public: bool,
    from_requester: bool,
    correlation_id: str = "",
) -> None:
    """The comment and what follows from it, in the caller's transaction (not committed).

    A reply from the requester to a ticket pending on them puts it back to work.
    """
    if not body.strip():
        raise InvalidInput("body", "must not be blank")
    if ticket.state == "closed":
        raise Conflict("closed tickets are final; open a new ticket linked to this one")
    now = utcnow()
    timeline.record(session, ticket, "comment", author, body=body, public=public)
    if from_requester and ticket.state == "pending" and ticket.pending_reason == "requester":
        to = "in_progress" if ticket.assignee_id is not None else "new"
        await _enter(session, ticket, to, now)
        timeline.record(
            session,
            ticket,
            "state",
            author,
            body=f"pending → {to} (the requester replied)",
            public=True,
            data={"from": "pending", "to": to, "reason": "requester replied"},
        )
    ticket.updated_at = now
    await notify.ticket_event(
        session,
        ticket,
        "ticket.comment",
        f"{author} wrote:\n\n{body}",
        public=public,
        correlation_id=correlation_id,
    )


async def _assignee_for(
    session: AsyncSession, team: Team | None, assignee_id: int | None
) -> int | None:
    if assignee_id is not None:
        if await routing.active_user(session, assignee_id) is None:
            raise InvalidInput("assignee_id", f"no active user {assignee_id}")
        return assignee_id
    return await routing.pick_assignee(session, team) if team is not None else None


async def _team(session: AsyncSession, team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = await session.get(Team, team_id)
    if team is None:
        raise InvalidInput("team_id", f"no team {team_id}")
    return team


async def assign(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    *,
    team_id: int | None = None,
    assignee_id: int | None = None,
    reason: str = "",
) -> Ticket:
    """Give the ticket to a team (its assignment rule picks the person) and/or a person."""
    actor.require(Permission.TICKETS_WRITE)
    ticket = await get_visible(session, actor, ticket_id)
    if ticket.state in ("resolved", "closed"):
        raise Conflict(f"the ticket is {ticket.state}; reopen it first")
    if team_id is None and assignee_id is None:
        raise InvalidInput("assignee_id", "give team_id, assignee_id or both")
    team = await _team(session, team_id)
    before = snapshot(ticket)
    if team is not None:
        ticket.team_id = team.id
    ticket.assignee_id = await _assignee_for(session, team, assignee_id)
    if ticket.assignee_id is not None and ticket.state == "new":
        ticket.state = "assigned"
    if ticket.assignee_id is None and ticket.state == "assigned":
        ticket.state = "new"
    ticket.updated_at = utcnow()
    timeline.record(
        session,
        ticket,
        "assignment",
        actor.name,
        body=reason,
        data={"team_id": ticket.team_id, "assignee_id": ticket.assignee_id, "before": before},
    )
    if ticket.assignee_id is not None:
        await notify.ticket_event(
            session,
            ticket,
            "ticket.assigned",
            f"Assigned to you. {reason}".strip(),
            public=False,
            correlation_id=actor.request_id,
        )
    audit.record(
        session, actor, "assign", "ticket", ticket.id, before=before, after=snapshot(ticket)
    )
    await session.commit()
    return ticket


async def escalate(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    *,
    reason: str,
    team_id: int | None = None,
    kind: str | None = None,
    vendor_reference: str = "",
    commit: bool = True,
) -> Ticket:
    """Functional (to another team, application support or a vendor) or hierarchical (up a
    tier, or to the team lead); the diagnostics gathered so far go with it."""
    actor.require(Permission.TICKETS_WRITE)
    ticket = await get_visible(session, actor, ticket_id)
    kind = kind or ("functional" if team_id is not None else "hierarchical")
    if kind not in ESCALATION_KINDS:
        raise InvalidInput("kind", f"one of {', '.join(ESCALATION_KINDS)}")
    if not reason.strip():
        raise InvalidInput("reason", "say why the ticket is escalated")
    if kind == "functional" and team_id is None:
        raise InvalidInput("team_id", "a functional escalation names the team to take over")
    if ticket.state in ("resolved", "closed"):
        raise Conflict(f"the ticket is {ticket.state}; reopen it first")
    team = await _team(session, team_id)
    if vendor_reference and (team is None or not team.is_vendor):
        raise InvalidInput("vendor_reference", "only for an escalation to a vendor team")
    before = snapshot(ticket)
    if kind == "hierarchical":
        ticket.escalation_level += 1
    assignee = await _escalated_assignee(session, ticket, team, kind)
    if team is not None:
        ticket.team_id = team.id
    ticket.assignee_id = assignee
    if vendor_reference:
        ticket.vendor_reference = vendor_reference
    if ticket.state in ("new", "assigned", "in_progress"):
        ticket.state = "assigned" if assignee is not None else "new"
    ticket.updated_at = utcnow()
    gathered = await diagnostics.gather(session, ticket.id)
    data: dict[str, Any] = {
        "kind": kind,
        "team_id": ticket.team_id,
        "assignee_id": ticket.assignee_id,
        "level": ticket.escalation_level,
        "vendor": team.is_vendor if team is not None else False,
        "vendor_contact": team.vendor_contact if team is not None and team.is_vendor else "",
        "vendor_reference": ticket.vendor_reference,
        "before": before,
        "diagnostics": gathered,
    }
    timeline.record(session, ticket, "escalation", actor.name, body=reason, data=data)
    where = f"the {team.name} team" if team is not None else "the team lead"
    timeline.record(
        session, ticket, "assignment", actor.name, body=f"Passed to {where}.", public=True
    )
    await notify.ticket_event(
        session,
        ticket,
        "ticket.escalated",
        f"Escalated ({kind}) to {where}: {reason}",
        public=False,
        correlation_id=actor.request_id,
    )
    await notify.ticket_event(
        session,
        ticket,
        "ticket.assigned",
        f"Your ticket was passed to {where}.",
        public=True,
        correlation_id=actor.request_id,
    )
    audit.record(
        session, actor, "escalate", "ticket", ticket.id, before=before, after=snapshot(ticket)
    )
    if commit:
        await session.commit()
    return ticket


async def _escalated_assignee(
    session: AsyncSession, ticket: Ticket, team: Team | None, kind: str
) -> int | None:
    if team is not None:
        return await routing.pick_assignee(session, team)
    # Up the line within the same team: to its lead.
    current = await session.get(Team, ticket.team_id) if ticket.team_id is not None else None
    lead = await session.get(User, current.lead_id) if current and current.lead_id else None
    if lead is None or lead.disabled:
        raise InvalidInput("team_id", "name the team to escalate to (this team has no lead)")
    return lead.id
