"""The audit trail, read-only, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.paging import Cursor, Limit, PageOf

router = APIRouter(prefix="/audit", tags=["audit"])
Reader = Annotated[Actor, Depends(allowed(Permission.AUDIT_READ))]


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: dt.datetime
    actor_user_id: int | None
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str


@router.get("")
async def list_(
    session: SessionDep,
    actor: Reader,
    by: Annotated[str | None, Query(alias="actor", description="username or user id")] = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: Annotated[dt.datetime | None, Query(description="from this time (inclusive)")] = None,
    until: Annotated[dt.datetime | None, Query(description="before this time")] = None,
    request_id: Annotated[str | None, Query(description="the X-Request-ID of a request")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PageOf[AuditEventPublic]:
    f = audit.AuditFilter(
        actor=by,
        object_type=object_type,
        object_id=object_id,
        action=action,
        since=since,
        until=until,
        request_id=request_id,
    )
    page = await audit.list_events(session, actor, f, limit=limit, cursor=cursor)
    return PageOf(
        items=[AuditEventPublic.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )
