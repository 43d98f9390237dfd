"""Teams: the assignment groups tickets go to (Service Desk, Desktop Support, a vendor...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.storage.models import Team, User
from controller.storage.unique import unique

FIELDS = ("name", "description", "email", "is_vendor", "vendor_contact", "lead_id", "assignment")


def snapshot(team: Team) -> dict[str, Any]:
    return {
        **{f: getattr(team, f) for f in FIELDS},
        "member_ids": sorted(u.id for u in team.members),
    }


async def _members(session: AsyncSession, member_ids: list[int], lead_id: int | None) -> list[User]:
    # The lead is a member of the team they lead.
    wanted = list(dict.fromkeys([*member_ids, *([lead_id] if lead_id is not None else [])]))
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))}
    for index, user_id in enumerate(wanted):
        if user_id not in users:
            field = (
                "lead_id"
                if user_id == lead_id and user_id not in member_ids
                else f"member_ids[{index}]"
            )
            raise InvalidInput(field, f"no user with id {user_id}")
    return [users[i] for i in wanted]


async def list_teams(
    session: AsyncSession, actor: Actor, *, limit: int, cursor: str | None
) -> Page[Team]:
    actor.require(Permission.TEAMS_READ)
    return await keyset_page(session, select(Team), (Team.id,), limit=limit, cursor=cursor)


async def get_team(session: AsyncSession, actor: Actor, team_id: int) -> Team:
    actor.require(Permission.TEAMS_READ)
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("team", team_id)
    return team


async def create_team(
    session: AsyncSession, actor: Actor, values: dict[str, Any], member_ids: list[int]
) -> Team:
    actor.require(Permission.TEAMS_WRITE)
    members = await _members(session, member_ids, values.get("lead_id"))
    team = Team(**{k: v for k, v in values.items() if k in FIELDS}, members=members)
    session.add(team)
    await unique(session, session.flush, f"a team named {team.name!r} exists")
    audit.record(session, actor, "create", "team", team.id, after=snapshot(team))
    await session.commit()
    return team


async def update_team(
    session: AsyncSession, actor: Actor, team_id: int, changes: dict[str, Any]
) -> Team:
    actor.require(Permission.TEAMS_WRITE)
    team = await get_team(session, actor, team_id)
    before = snapshot(team)
    for field in FIELDS:
        if field in changes:
            setattr(team, field, changes[field])
    if "member_ids" in changes or "lead_id" in changes:
        member_ids = changes.get("member_ids")
        if member_ids is None:
            member_ids = [u.id for u in team.members]
        team.members = await _members(session, member_ids, team.lead_id)
    audit.record(session, actor, "update", "team", team.id, before=before, after=snapshot(team))
    await unique(session, session.commit, f"a team named {team.name!r} exists")
    await session.refresh(team)
    return team


async def delete_team(session: AsyncSession, actor: Actor, team_id: int) -> None:
    actor.require(Permission.TEAMS_WRITE)
    team = await get_team(session, actor, team_id)
    audit.record(session, actor, "delete", "team", team.id, before=snapshot(team))
    await session.delete(team)
    await session.commit()
