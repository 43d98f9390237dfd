"""Sites: where endpoints are, with address, contacts, hours and time zone."""

from __future__ import annotations

import zoneinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import Conflict, InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.storage.models import Endpoint, Site
from controller.storage.unique import unique

FIELDS = ("name", "address", "contacts", "hours", "timezone")


def snapshot(site: Site) -> dict[str, Any]:
    return {field: getattr(site, field) for field in FIELDS}


def _check(values: dict[str, Any]) -> None:
    timezone = values.get("timezone")
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                "timezone", f"unknown time zone {timezone!r} (e.g. Europe/Paris)"
            ) from None


async def list_sites(
    session: AsyncSession, actor: Actor, *, limit: int, cursor: str | None
) -> Page[Site]:
    actor.require(Permission.SITES_READ)
    query = select(Site)
    if actor.site_ids is not None:
        query = query.where(Site.id.in_(actor.site_ids))
    return await keyset_page(session, query, (Site.id,), limit=limit, cursor=cursor)


async def get_site(session: AsyncSession, actor: Actor, site_id: int) -> Site:
    actor.require(Permission.SITES_READ)
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound("site", site_id)
    actor.require_site(site.id, "site", site_id)
    return site


async def create_site(session: AsyncSession, actor: Actor, values: dict[str, Any]) -> Site:
    actor.require(Permission.SITES_WRITE)
    _check(values)
    site = Site(**{k: v for k, v in values.items() if k in FIELDS})
    session.add(site)
    await unique(session, session.flush, f"a site named {site.name!r} exists")
    audit.record(session, actor, "create", "site", site.id, after=snapshot(site))
    await session.commit()
    return site


async def update_site(
    session: AsyncSession, actor: Actor, site_id: int, changes: dict[str, Any]
) -> Site:
    actor.require(Permission.SITES_WRITE)
    site = await get_site(session, actor, site_id)
    _check(changes)
    before = snapshot(site)
    for field, value in changes.items():
        if field in FIELDS:
            setattr(site, field, value)
    audit.record(session, actor, "update", "site", site.id, before=before, after=snapshot(site))
    await unique(session, session.commit, f"a site named {site.name!r} exists")
    await session.refresh(site)
    return site


async def delete_site(session: AsyncSession, actor: Actor, site_id: int) -> None:
    actor.require(Permission.SITES_WRITE)
    site = await get_site(session, actor, site_id)
    endpoints = await session.scalar(
        select(func.count()).select_from(Endpoint).where(Endpoint.site_id == site_id)
    )
    if endpoints:
        raise Conflict(f"site {site.name!r} still has {endpoints} endpoints; move them first")
    audit.record(session, actor, "delete", "site", site.id, before=snapshot(site))
    await session.delete(site)
    await session.commit()
