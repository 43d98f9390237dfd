"""A resolved ticket's satisfaction survey: its requester answers once, staff read it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.desk import surveys
from controller.storage.models import TicketSurvey

router = APIRouter(prefix="/tickets", tags=["tickets"])
Asker = Annotated[Actor, Depends(allowed(Permission.TICKETS_OWN))]


class SurveyAnswer(BaseModel):
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: Annotated[str, StringConstraints(max_length=surveys.MAX_COMMENT)] = ""


class SurveyAnswerPublic(BaseModel):
    rating: int
    comment: str
    answered_at: dt.datetime
    user_id: int | None

    @classmethod
    def of(cls, answer: TicketSurvey) -> SurveyAnswerPublic:
        return cls(
            rating=answer.rating,
            comment=answer.comment,
            answered_at=answer.answered_at,
            user_id=answer.user_id,
        )


class SurveyPublic(BaseModel):
    ticket_id: int
    can_answer: bool = Field(
        description="the caller may answer now: their own ticket, resolved or closed, unanswered"
    )
    answer: SurveyAnswerPublic | None


@router.get("/{ticket_id}/survey")
async def get(ticket_id: int, session: SessionDep, actor: Asker) -> SurveyPublic:
    """The survey's answer, if given, and whether the caller may answer it now."""
    status = await surveys.survey(session, actor, ticket_id)
    answer = SurveyAnswerPublic.of(status.answer) if status.answer else None
    return SurveyPublic(ticket_id=status.ticket_id, can_answer=status.can_answer, answer=answer)


@router.post("/{ticket_id}/survey", status_code=201)
async def answer(
    ticket_id: int, body: SurveyAnswer, session: SessionDep, actor: Asker
) -> SurveyPublic:
    """Answer once, as the ticket's requester, when it is resolved or closed (else 409)."""
    given = await surveys.answer(session, actor, ticket_id, body.rating, body.comment)
    return SurveyPublic(ticket_id=ticket_id, can_answer=False, answer=SurveyAnswerPublic.of(given))
