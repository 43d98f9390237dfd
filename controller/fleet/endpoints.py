"""Listing, reading and changing endpoints, within the actor's site scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import InvalidInput, NotFound
from controller.fleet.validation import check_tags
from controller.paging import Page, keyset_page
from controller.storage.models import Endpoint, EndpointTag, Site
from controller.storage.types import utcnow

_Row = TypeVar("_Row", bound=Any)


@dataclass(frozen=True)
class EndpointFilter:
    site: str | None = None
    tag: str | None = None
    os: str | None = None
    online: bool | None = None


def is_online(endpoint: Endpoint, window: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """An agent: connected and heard from within one heartbeat window. An agentless
    endpoint: its last connection (a run, a test, the scheduled inventory) succeeded."""
    if not endpoint.connected or endpoint.last_seen is None or endpoint.revoked_at is not None:
        return False
    return endpoint.transport != "agent" or endpoint.last_seen >= (now or utcnow()) - window


def scoped(query: Select[_Row], actor: Actor) -> Select[_Row]:
    if actor.site_ids is None:
        return query
    return query.where(Endpoint.site_id.in_(actor.site_ids))


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
            or_(Endpoint.transport != "agent", Endpoint.last_seen >= utcnow() - window),
        )
        query = query.where(online if f.online else ~online)
    return query


async def list_endpoints(
    session: AsyncSession,
    actor: Actor,
    f: EndpointFilter,
    *,
    window: dt.timedelta,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[Endpoint]:
    actor.require(Permission.ENDPOINTS_READ)
    query = scoped(_filtered(select(Endpoint), f, window), actor)
    return await keyset_page(
        session, query, (Endpoint.hostname, Endpoint.id), limit=limit, cursor=cursor
    )


async def get_endpoint(session: AsyncSession, actor: Actor, endpoint_id: str) -> Endpoint:
    actor.require(Permission.ENDPOINTS_READ)
    endpoint = await session.get(Endpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("endpoint", endpoint_id)
    actor.require_site(endpoint.site_id, "endpoint", endpoint_id)
    return endpoint


def snapshot(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "hostname": endpoint.hostname,
        "site_id": endpoint.site_id,
        "tags": sorted(t.tag for t in endpoint.tags),
        "revoked": endpoint.revoked_at is not None,
    }


async def update_endpoint(
    session: AsyncSession,
    actor: Actor,
    endpoint_id: str,
    *,
    site_id: int | None = None,
    move_site: bool = False,
    tags: list[str] | None = None,
) -> Endpoint:
    """Move an endpoint to another site (within the actor's scope) and/or replace its tags."""
    actor.require(Permission.ENDPOINTS_WRITE)
    endpoint = await get_endpoint(session, actor, endpoint_id)
    before = snapshot(endpoint)
    if move_site:
        # One answer for a missing site and another's site: existence is not revealed.
        unknown = site_id is not None and await session.get(Site, site_id) is None
        if unknown or not actor.sees_site(site_id):
            raise InvalidInput("site_id", f"no site with id {site_id} among yours")
        endpoint.site_id = site_id
    if tags is not None:
        clean = check_tags(tags)
        endpoint.tags = [EndpointTag(endpoint_id=endpoint.id, tag=t) for t in clean]
    await session.flush()
    audit.record(
        session, actor, "update", "endpoint", endpoint.id, before=before, after=snapshot(endpoint)
    )
    await session.commit()
    await session.refresh(endpoint)
    return endpoint
