"""Queues: the tickets an actor may see, filtered, newest first, a page at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk.lifecycle import OPEN_STATES, STATES
from controller.desk.visibility import is_staff, visible
from controller.errors import InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.storage.models import Team, Ticket, ticket_endpoints
from controller.storage.types import utcnow


def is_open_ticket() -> ColumnElement[bool]:
    """The condition that a ticket is open (new, assigned, in progress or pending)."""
    # The states are written into the SQL, not bound: PostgreSQL's partial index of open
    # tickets (ix_tickets_open_queue) matches only a plan that sees them, and a prepared
    # statement's generic plan would not.
    states: BindParameter[list[str]] = bindparam(
        "open_states", sorted(OPEN_STATES), expanding=True, literal_execute=True
    )
    return Ticket.state.in_(states)


@dataclass(frozen=True)
class TicketFilter:
    state: str | None = None  # a state, or "open" for any open one
    mine: bool = False
    team_id: int | None = None
    unassigned: bool = False
    breaching_within_s: int | None = None
    priority: int | None = None
    requester_id: int | None = None
    site_id: int | None = None
    category_id: int | None = None
    sla_state: str | None = None
    endpoint_id: str | None = None


def _filtered(query: Select[Ticket], actor: Actor, f: TicketFilter) -> Select[Ticket]:
    if f.state == "open":
        query = query.where(is_open_ticket())
    elif f.state is not None:
        if f.state not in STATES:
            raise InvalidInput("state", f"open or one of {', '.join(STATES)}")
        query = query.where(Ticket.state == f.state)
    if f.mine:
        query = query.where(Ticket.assignee_id == actor.user_id)
    if f.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    if f.breaching_within_s is not None:
        horizon = utcnow() + dt.timedelta(seconds=f.breaching_within_s)
        query = query.where(is_open_ticket(), Ticket.resolve_due_at <= horizon)
    if f.endpoint_id is not None:
        query = query.where(
            Ticket.id.in_(
                select(ticket_endpoints.c.ticket_id).where(
                    ticket_endpoints.c.endpoint_id == f.endpoint_id
                )
            )
        )
    for column, value in (
        (Ticket.team_id, f.team_id),
        (Ticket.priority, f.priority),
        (Ticket.requester_id, f.requester_id),
        (Ticket.site_id, f.site_id),
        (Ticket.category_id, f.category_id),
        (Ticket.sla_state, f.sla_state),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


async def list_tickets(
    session: AsyncSession,
    actor: Actor,
    f: TicketFilter,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[Ticket]:
    if not (is_staff(actor) or actor.can(Permission.TICKETS_OWN)):
        actor.require(Permission.TICKETS_OWN)
    query = _filtered(visible(select(Ticket), actor), actor, f)
    return await keyset_page(
        session, query, (Ticket.id,), limit=limit, cursor=cursor, newest_first=True
    )


async def team_queue(
    session: AsyncSession,
    actor: Actor,
    team_id: int,
    *,
    unassigned: bool = False,
    breaching_within_s: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[Ticket]:
    actor.require(Permission.TICKETS_READ)
    if await session.scalar(select(Team.id).where(Team.id == team_id)) is None:
        raise NotFound("team", team_id)
    f = TicketFilter(
        state="open", team_id=team_id, unassigned=unassigned, breaching_within_s=breaching_within_s
    )
    return await list_tickets(session, actor, f, limit=limit, cursor=cursor)
