"""The fleet at a glance: how many endpoints each site and each tag has, and how many are online."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.fleet.endpoints import is_online, scoped
from controller.storage.models import Endpoint
from controller.storage.types import utcnow


@dataclass(frozen=True)
class GroupCount:
    name: str | None  # a site's or a tag's name; None: the endpoints without a site
    site_id: int | None
    total: int
    online: int

    @property
    def offline(self) -> int:
        return self.total - self.online


@dataclass(frozen=True)
class FleetGroups:
    total: int
    online: int
    sites: list[GroupCount]
    tags: list[GroupCount]


def _counted(
    members: dict[tuple[str | None, int | None], list[bool]],
) -> list[GroupCount]:
    groups = [
        GroupCount(name=name, site_id=site_id, total=len(flags), online=sum(flags))
        for (name, site_id), flags in members.items()
    ]
    # Named groups alphabetically, the endpoints without a site last.
    return sorted(groups, key=lambda g: (g.name is None, (g.name or "").lower()))


def count_groups(endpoints: Iterable[Endpoint], window: dt.timedelta) -> FleetGroups:
    now = utcnow()
    by_site: dict[tuple[str | None, int | None], list[bool]] = {}
    by_tag: dict[tuple[str | None, int | None], list[bool]] = {}
    total = online = 0
    for endpoint in endpoints:
        up = is_online(endpoint, window, now)
        total, online = total + 1, online + up
        site = (endpoint.site.name if endpoint.site else None, endpoint.site_id)
        by_site.setdefault(site, []).append(up)
        for tag in endpoint.tags:
            by_tag.setdefault((tag.tag, None), []).append(up)
    return FleetGroups(total=total, online=online, sites=_counted(by_site), tags=_counted(by_tag))


async def fleet_groups(session: AsyncSession, actor: Actor, *, window: dt.timedelta) -> FleetGroups:
    """Counts over the endpoints the actor may see (a USA: their sites' only); revoked
    endpoints are left out, as they will never run anything again."""
    actor.require(Permission.ENDPOINTS_READ)
    query = scoped(select(Endpoint).where(Endpoint.revoked_at.is_(None)), actor)
    return count_groups(await session.scalars(query), window)
