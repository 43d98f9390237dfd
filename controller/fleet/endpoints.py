"""Listing and reading endpoints, with keyset paging."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from controller.errors import InvalidInput, NotFound
from controller.storage.models import Endpoint, EndpointTag, Site
from controller.storage.types import utcnow

MAX_PAGE = 1000


@dataclass(frozen=True)
class EndpointFilter:
    site: str | None = None
    tag: str | None = None
    os: str | None = None
    online: bool | None = None


@dataclass(frozen=True)
class Page:
    items: list[Endpoint]
    next_cursor: str | None


def is_online(endpoint: Endpoint, window: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """Connected and heard from within one heartbeat window."""
    if not endpoint.connected or endpoint.last_seen is None or endpoint.revoked_at is not None:
        return False
    return endpoint.last_seen >= (now or utcnow()) - window


def _encode_cursor(endpoint: Endpoint) -> str:
    raw = json.dumps([endpoint.hostname, endpoint.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        hostname, endpoint_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if not isinstance(hostname, str) or not isinstance(endpoint_id, str):
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidInput("cursor", "not a cursor returned by this API") from None
    return hostname, endpoint_id


def _filtered(query: Select[Endpoint], f: EndpointFilter, window: dt.timedelta) -> Select[Endpoint]:
    if f.site is not None:
        query = query.join(Site, Endpoint.site_id == Site.id).where(Site.name == f.site)
    if f.tag is not None:
        query = query.where(
            Endpoint.id.in_(select(EndpointTag.endpoint_id).where(EndpointTag.tag == f.tag))
        )
    if f.os is not None:
        # The user's text is matched literally: % and _ are not wildcards here.
        literal = f.os.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(
                Endpoint.os_family == f.os.lower(),
                Endpoint.os_name.ilike(f"%{literal}%", escape="\\"),
            )
        )
    if f.online is not None:
        online = and_(
            Endpoint.connected.is_(True),
            Endpoint.revoked_at.is_(None),
            Endpoint.last_seen >= utcnow() - window,
        )
        query = query.where(online if f.online else ~online)
    return query


async def list_endpoints(
    session: AsyncSession,
    f: EndpointFilter,
    *,
    window: dt.timedelta,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    query = _filtered(select(Endpoint), f, window)
    if cursor:
        query = query.where(tuple_(Endpoint.hostname, Endpoint.id) > _decode_cursor(cursor))
    query = query.order_by(Endpoint.hostname, Endpoint.id).limit(limit + 1)
    rows = list((await session.scalars(query)).unique())
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, _encode_cursor(items[-1]) if more else None)


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> Endpoint:
    endpoint = await session.get(Endpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("endpoint", endpoint_id)
    return endpoint
