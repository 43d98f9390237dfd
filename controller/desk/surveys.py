"""Satisfaction surveys: once a ticket is resolved, its requester rates it, once.

Only the ticket's own requester answers (a watcher or an analyst speaking for them would
not be the requester's voice); staff who can see the ticket read the answer. The answer
goes on the ticket's public timeline, so both sides see what was said.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk import timeline
from controller.desk.visibility import get_visible
from controller.errors import Conflict, Forbidden, InvalidInput
from controller.storage.models import Ticket, TicketSurvey
from controller.storage.unique import unique

ANSWERABLE_STATES = frozenset({"resolved", "closed"})
MAX_COMMENT = 5000


@dataclass(frozen=True)
class SurveyStatus:
    """What a ticket's survey looks like to the caller: its answer, and whether they may
    answer it now (their own ticket, resolved or closed, not yet answered)."""

    ticket_id: int
    can_answer: bool
    answer: TicketSurvey | None


def _is_requester(actor: Actor, ticket: Ticket) -> bool:
    return actor.user_id is not None and ticket.requester_id == actor.user_id


async def _answer_of(session: AsyncSession, ticket_id: int) -> TicketSurvey | None:
    query = select(TicketSurvey).where(TicketSurvey.ticket_id == ticket_id)
    return await session.scalar(query)


async def survey(session: AsyncSession, actor: Actor, ticket_id: int) -> SurveyStatus:
    ticket = await get_visible(session, actor, ticket_id)
    answer = await _answer_of(session, ticket.id)
    can_answer = (
        answer is None and _is_requester(actor, ticket) and ticket.state in ANSWERABLE_STATES
    )
    return SurveyStatus(ticket_id=ticket.id, can_answer=can_answer, answer=answer)


def _checked(rating: int, comment: str) -> str:
    if not 1 <= rating <= 5:
        raise InvalidInput("rating", "from 1 (very unhappy) to 5 (very happy)")
    if len(comment) > MAX_COMMENT:
        raise InvalidInput("comment", f"at most {MAX_COMMENT} characters")
    return comment.strip()


async def answer(
    session: AsyncSession, actor: Actor, ticket_id: int, rating: int, comment: str = ""
) -> TicketSurvey:
    """Record the requester's answer; a second answer is refused (409), whoever sends it."""
    actor.require(Permission.TICKETS_OWN)
    comment = _checked(rating, comment)
    ticket = await get_visible(session, actor, ticket_id)
    if not _is_requester(actor, ticket):
        raise Forbidden("only the ticket's requester may answer its satisfaction survey")
    if ticket.state not in ANSWERABLE_STATES:
        raise Conflict(
            f"ticket {ticket.id} is {ticket.state}: its survey opens once it is resolved"
        )
    already = await _answer_of(session, ticket.id)
    if already is not None:
        raise Conflict(_answered(ticket.id, already))
    survey_answer = TicketSurvey(
        ticket_id=ticket.id, user_id=actor.user_id, rating=rating, comment=comment
    )
    session.add(survey_answer)
    body = f"Satisfaction: {rating} of 5" + (f"\n\n{comment}" if comment else "")
    timeline.record(
        session, ticket, "survey", actor.name, body=body, public=True, data={"rating": rating}
    )
    audit.record(session, actor, "answer_survey", "ticket", ticket.id, after={"rating": rating})
    # Two answers sent at once: the unique ticket_id keeps the first, the second is told.
    await unique(session, session.commit, f"ticket {ticket.id}'s survey was already answered")
    return survey_answer


def _answered(ticket_id: int, already: TicketSurvey) -> str:
    when = already.answered_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"ticket {ticket_id}'s survey was already answered on {when}; it is answered once"
