"""What holds the loop back: maintenance windows per site or endpoint, and the global pause.

While a window is open for an endpoint (its own, or its site's), or automation is paused,
results are still recorded, but no ticket is opened and nothing is fixed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import InvalidInput, NotFound
from controller.fleet.endpoints import get_endpoint
from controller.storage.models import Endpoint, MaintenanceWindow, Site, Switch
from controller.storage.types import utcnow

PAUSE = "automation.paused"
MAX_WINDOW = dt.timedelta(days=31)


def _snapshot(window: MaintenanceWindow) -> dict[str, Any]:
    return {
        "site_id": window.site_id,
        "endpoint_id": window.endpoint_id,
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "reason": window.reason,
    }


async def open_window(
    session: AsyncSession,
    actor: Actor,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    site_id: int | None = None,
    endpoint_id: str | None = None,
) -> MaintenanceWindow:
    actor.require(Permission.CHECKS_WRITE)
    if (site_id is None) == (endpoint_id is None):
        raise InvalidInput("site_id", "give exactly one of site_id and endpoint_id")
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value.tzinfo is None:
            raise InvalidInput(name, "needs a time zone")
    if ends_at <= starts_at:
        raise InvalidInput("ends_at", "must be after starts_at")
    if ends_at - starts_at > MAX_WINDOW:
        raise InvalidInput("ends_at", "a window lasts at most 31 days; open another after it")
    if ends_at <= utcnow():
        raise InvalidInput("ends_at", "must be in the future")
    if not reason.strip():
        raise InvalidInput("reason", "say why (it shows wherever the window holds the loop)")
    if site_id is not None and (
        await session.get(Site, site_id) is None or not actor.sees_site(site_id)
    ):
        raise InvalidInput("site_id", f"no site {site_id} that you can reach")
    if endpoint_id is not None:
        try:
            await get_endpoint(session, actor, endpoint_id)
        except NotFound:
            raise InvalidInput("endpoint_id", f"no endpoint {endpoint_id} you can reach") from None
    window = MaintenanceWindow(
        site_id=site_id,
        endpoint_id=endpoint_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason.strip(),
        created_by=actor.name,
    )
    session.add(window)
    await session.flush()
    audit.record(session, actor, "create", "maintenance_window", window.id, after=_snapshot(window))
    await session.commit()
    return window


def _scoped(actor: Actor) -> Any:
    query = select(MaintenanceWindow)
    if actor.site_ids is not None:
        reachable = select(Endpoint.id).where(Endpoint.site_id.in_(actor.site_ids))
        query = query.where(
            or_(
                MaintenanceWindow.site_id.in_(actor.site_ids),
                MaintenanceWindow.endpoint_id.in_(reachable),
            )
        )
    return query


async def list_windows(
    session: AsyncSession, actor: Actor, *, current_only: bool = True
) -> list[MaintenanceWindow]:
    actor.require(Permission.CHECKS_READ)
    query = _scoped(actor)
    if current_only:
        query = query.where(MaintenanceWindow.ends_at > utcnow())
    return list(await session.scalars(query.order_by(MaintenanceWindow.starts_at).limit(1000)))


async def close_window(session: AsyncSession, actor: Actor, window_id: int) -> None:
    """End a window now (the record stays, ended, for the history)."""
    actor.require(Permission.CHECKS_WRITE)
    window = await session.scalar(_scoped(actor).where(MaintenanceWindow.id == window_id))
    if window is None:
        raise NotFound("maintenance window", window_id)
    before = _snapshot(window)
    now = utcnow()
    window.ends_at = min(window.ends_at, now)
    window.starts_at = min(window.starts_at, window.ends_at)
    audit.record(
        session,
        actor,
        "close",
        "maintenance_window",
        window.id,
        before=before,
        after=_snapshot(window),
    )
    await session.commit()


async def in_maintenance(
    session: AsyncSession, endpoint_id: str, at: dt.datetime | None = None
) -> MaintenanceWindow | None:
    """The window holding this endpoint at that time (its own or its site's), if any."""
    at = at or utcnow()
    site = select(Endpoint.site_id).where(Endpoint.id == endpoint_id).scalar_subquery()
    return await session.scalar(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.starts_at <= at,
            MaintenanceWindow.ends_at > at,
            or_(MaintenanceWindow.endpoint_id == endpoint_id, MaintenanceWindow.site_id == site),
        )
        .limit(1)
    )


async def paused(session: AsyncSession) -> Switch | None:
    """The pause switch when it is on."""
    switch = await session.get(Switch, PAUSE)
    return switch if switch is not None and switch.on else None


async def set_paused(session: AsyncSession, actor: Actor, on: bool, reason: str) -> Switch:
    actor.require(Permission.DESK_CONFIG)
    if on and not reason.strip():
        raise InvalidInput("reason", "say why automation is paused")
    switch = await session.get(Switch, PAUSE)
    before = {"on": switch.on, "reason": switch.reason} if switch else {"on": False, "reason": ""}
    if switch is None:
        switch = Switch(name=PAUSE)
        session.add(switch)
    switch.on, switch.reason = on, reason.strip()
    switch.changed_by, switch.changed_at = actor.name, utcnow()
    audit.record(
        session,
        actor,
        "pause" if on else "resume",
        "automation",
        PAUSE,
        before=before,
        after={"on": on, "reason": switch.reason},
    )
    await session.commit()
    return switch
