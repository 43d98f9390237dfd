"""Which tickets an actor sees: staff within their sites, requesters their own.

A ticket outside the actor's reach does not exist for them (404, never 403), as with
endpoints. A site-scoped staff member (USA) also sees tickets they asked for or hold.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import NotFound
from controller.storage.models import Ticket, ticket_watchers


def is_staff(actor: Actor) -> bool:
    return actor.can(Permission.TICKETS_READ)


def visible(query: Select[Ticket], actor: Actor) -> Select[Ticket]:
    if is_staff(actor) and actor.site_ids is None:
        return query
    own = [Ticket.requester_id == actor.user_id]
    if is_staff(actor):
        assert actor.site_ids is not None
        own += [Ticket.site_id.in_(actor.site_ids), Ticket.assignee_id == actor.user_id]
    else:
        watching = select(ticket_watchers.c.ticket_id).where(
            ticket_watchers.c.user_id == actor.user_id
        )
        own.append(Ticket.id.in_(watching))
    return query.where(or_(*own))


async def get_visible(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    if not (is_staff(actor) or actor.can(Permission.TICKETS_OWN)):
        raise NotFound("ticket", ticket_id)
    ticket = await session.scalar(visible(select(Ticket).where(Ticket.id == ticket_id), actor))
    if ticket is None:
        raise NotFound("ticket", ticket_id)
    return ticket
