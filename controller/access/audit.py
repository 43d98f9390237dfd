"""The audit trail: who changed what, when, from what to what, under which request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.paging import Page, keyset_page
from controller.storage.models import AuditEvent, User


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add the event to the caller's transaction, so it commits with the change or not at all."""
    session.add(
        AuditEvent(
            actor_user_id=actor.user_id,
            actor=actor.name,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            before=before,
            after=after,
            request_id=actor.request_id,
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None  # a username, or a user's id
    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    request_id: str | None = None


async def list_events(
    session: AsyncSession, actor: Actor, f: AuditFilter, *, limit: int, cursor: str | None
) -> Page[AuditEvent]:
    """Newest first."""
    actor.require(Permission.AUDIT_READ)
    query = select(AuditEvent)
    if f.actor is not None:
        if f.actor.isdigit():
            query = query.where(AuditEvent.actor_user_id == int(f.actor))
        else:
            user_id = select(User.id).where(User.username == f.actor).scalar_subquery()
            query = query.where(
                (AuditEvent.actor == f.actor) | (AuditEvent.actor_user_id == user_id)
            )
    for column, value in (
        (AuditEvent.object_type, f.object_type),
        (AuditEvent.object_id, f.object_id),
        (AuditEvent.action, f.action),
        (AuditEvent.request_id, f.request_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(AuditEvent.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEvent.at < f.until)
    return await keyset_page(
        session, query, (AuditEvent.id,), limit=limit, cursor=cursor, newest_first=True
    )
