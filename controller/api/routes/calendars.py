"""Business calendars: working hours per weekday in a time zone, and holidays."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, StringConstraints

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.fields import Name
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.desk import config
from controller.storage.models import BusinessCalendar

router = APIRouter(prefix="/calendars", tags=["calendars"])
Reader = Annotated[Actor, Depends(allowed(Permission.TICKETS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.DESK_CONFIG))]

TimeZone = Annotated[str, StringConstraints(max_length=64)]
# Checked by the domain, which names the span that is wrong (hours.tue[1]).
Hours = Annotated[
    dict[str, list[list[str]]],
    Field(
        description='open spans per weekday, e.g. {"mon": [["08:00", "12:00"], ["13:00", "17:00"]]}'
        '; a missing day is closed; "24:00" ends a span at midnight',
        examples=[{"mon": [["08:00", "17:00"]], "tue": [["08:00", "17:00"]]}],
    ),
]
Holidays = Annotated[
    list[str], Field(max_length=config.MAX_HOLIDAYS, description='local dates "YYYY-MM-DD"')
]


class CalendarCreate(BaseModel):
    name: Name
    timezone: TimeZone = "UTC"
    hours: Hours
    holidays: Holidays = Field(default_factory=list)


class CalendarUpdate(PatchModel):
    name: Name | None = None
    timezone: TimeZone | None = None
    hours: Hours | None = None
    holidays: Holidays | None = None


class CalendarPublic(BaseModel):
    id: int
    name: str
    timezone: str
    hours: dict[str, list[list[str]]]
    holidays: list[str]
    created_at: dt.datetime

    @classmethod
    def of(cls, calendar: BusinessCalendar) -> CalendarPublic:
        fields = config.snapshot(config.CALENDARS, calendar)
        return cls(id=calendar.id, **fields, created_at=calendar.created_at)


@router.get("")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[CalendarPublic]:
    page = await config.list_rows(session, actor, config.CALENDARS, limit=limit, cursor=cursor)
    return PageOf(items=[CalendarPublic.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: CalendarCreate, session: SessionDep, actor: Writer) -> CalendarPublic:
    values = body.model_dump()
    return CalendarPublic.of(await config.create(session, actor, config.CALENDARS, values))


@router.get("/{calendar_id}")
async def get(calendar_id: int, session: SessionDep, actor: Reader) -> CalendarPublic:
    return CalendarPublic.of(await config.get(session, actor, config.CALENDARS, calendar_id))


@router.patch("/{calendar_id}")
async def update(
    calendar_id: int, body: CalendarUpdate, session: SessionDep, actor: Writer
) -> CalendarPublic:
    changes = body.model_dump(exclude_unset=True)
    calendar = await config.update(session, actor, config.CALENDARS, calendar_id, changes)
    return CalendarPublic.of(calendar)


@router.delete("/{calendar_id}", status_code=204)
async def delete(calendar_id: int, session: SessionDep, actor: Writer) -> Response:
    """Refused (409) while SLA policies use the calendar."""
    await config.delete(session, actor, config.CALENDARS, calendar_id)
    return Response(status_code=204)
