"""Teams: assignment groups, their members and lead; vendors with their contact."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from controller.access import teams
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.fields import Email, Name, Text
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.storage.models import Team

router = APIRouter(prefix="/teams", tags=["teams"])
# How tickets routed to the team get an assignee (see controller/desk/routing.py).
Assignment = Literal["manual", "round_robin", "least_loaded"]
Reader = Annotated[Actor, Depends(allowed(Permission.TEAMS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.TEAMS_WRITE))]


class TeamCreate(BaseModel):
    name: Name
    description: Text = ""
    email: Email = ""
    is_vendor: bool = False
    vendor_contact: Text = Field(default="", description="how to reach the vendor's support")
    lead_id: int | None = None
    assignment: Assignment = "manual"
    member_ids: list[int] = Field(default_factory=list, max_length=1000)


class TeamUpdate(PatchModel):
    nullable = frozenset({"lead_id"})

    name: Name | None = None
    description: Text | None = None
    email: Email | None = None
    is_vendor: bool | None = None
    vendor_contact: Text | None = None
    lead_id: int | None = None
    assignment: Assignment | None = None
    member_ids: list[int] | None = Field(default=None, max_length=1000)


class TeamPublic(BaseModel):
    id: int
    name: str
    description: str
    email: str
    is_vendor: bool
    vendor_contact: str
    lead_id: int | None
    assignment: str
    member_ids: list[int]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, team: Team) -> TeamPublic:
        fields = {f: getattr(team, f) for f in teams.FIELDS}
        return cls(
            id=team.id,
            **fields,
            member_ids=[u.id for u in team.members],
            created_at=team.created_at,
            updated_at=team.updated_at,
        )


@router.get("")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[TeamPublic]:
    page = await teams.list_teams(session, actor, limit=limit, cursor=cursor)
    return PageOf(items=[TeamPublic.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: TeamCreate, session: SessionDep, actor: Writer) -> TeamPublic:
    values = body.model_dump(exclude={"member_ids"})
    return TeamPublic.of(await teams.create_team(session, actor, values, body.member_ids))


@router.get("/{team_id}")
async def get(team_id: int, session: SessionDep, actor: Reader) -> TeamPublic:
    return TeamPublic.of(await teams.get_team(session, actor, team_id))


@router.patch("/{team_id}")
async def update(team_id: int, body: TeamUpdate, session: SessionDep, actor: Writer) -> TeamPublic:
    changes = body.model_dump(exclude_unset=True)
    return TeamPublic.of(await teams.update_team(session, actor, team_id, changes))


@router.delete("/{team_id}", status_code=204)
async def delete(team_id: int, session: SessionDep, actor: Writer) -> Response:
    await teams.delete_team(session, actor, team_id)
    return Response(status_code=204)
