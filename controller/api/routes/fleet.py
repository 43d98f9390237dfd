"""The fleet grouped by site and by tag, with online counts: what a bulk run would reach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.fleet.groups import GroupCount, fleet_groups

router = APIRouter(prefix="/fleet", tags=["endpoints"])
Reader = Annotated[Actor, Depends(allowed(Permission.ENDPOINTS_READ))]


class GroupPublic(BaseModel):
    name: str | None = Field(description="the site's or tag's name; null: endpoints without a site")
    site_id: int | None = Field(description="sites: the site's id")
    total: int
    online: int
    offline: int

    @classmethod
    def of(cls, group: GroupCount) -> GroupPublic:
        return cls(
            name=group.name,
            site_id=group.site_id,
            total=group.total,
            online=group.online,
            offline=group.offline,
        )


class FleetGroupsPublic(BaseModel):
    total: int
    online: int
    sites: list[GroupPublic]
    tags: list[GroupPublic]


@router.get("/groups")
async def groups(
    session: SessionDep, controller: ControllerDep, actor: Reader
) -> FleetGroupsPublic:
    """Endpoints (not revoked) the caller may see, counted per site and per tag."""
    found = await fleet_groups(session, actor, window=controller.online_window)
    return FleetGroupsPublic(
        total=found.total,
        online=found.online,
        sites=[GroupPublic.of(g) for g in found.sites],
        tags=[GroupPublic.of(g) for g in found.tags],
    )
