"""Which team gets a new ticket, and who in the team.

Rules are tried by position; the first whose category (or an ancestor of the ticket's),
site and keywords all hold picks the team. Within the team, the team's assignment setting
decides: manual (nobody yet), round_robin (members in turn) or least_loaded (the member
holding the fewest open tickets; ties go to whoever has waited longest in the rotation).
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.desk.lifecycle import OPEN_STATES
from controller.storage.models import Category, RoutingRule, Team, TeamRotation, Ticket, User

ASSIGNMENT_MODES = ("manual", "round_robin", "least_loaded")
_WORD = re.compile(r"\w+")


async def _category_chain(session: AsyncSession, category_id: int | None) -> set[int]:
    """The category and its ancestors (a rule on 'software' matches 'software/email')."""
    if category_id is None:
        return set()
    category = await session.get(Category, category_id)
    if category is None:
        return set()
    prefixes = [
        "/".join(category.path.split("/")[:n]) for n in range(1, len(category.path.split("/")) + 1)
    ]
    found = await session.scalars(select(Category.id).where(Category.path.in_(prefixes)))
    return set(found)


async def route(session: AsyncSession, ticket: Ticket) -> int | None:
    """The team the first matching rule names, or None."""
    rules = await session.scalars(
        select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)
    )
    chain = await _category_chain(session, ticket.category_id)
    words = {w.lower() for w in _WORD.findall(f"{ticket.title} {ticket.description}")}
    for rule in rules:
        if rule.category_id is not None and rule.category_id not in chain:
            continue
        if rule.site_id is not None and rule.site_id != ticket.site_id:
            continue
        if rule.keywords and not any(k.lower() in words for k in rule.keywords):
            continue
        return rule.team_id
    return None


async def pick_assignee(session: AsyncSession, team: Team) -> int | None:
    members = sorted(m.id for m in team.members if not m.disabled)
    if team.assignment == "manual" or not members:
        return None
    rotation = await session.get(TeamRotation, team.id)
    if rotation is None:
        rotation = TeamRotation(team_id=team.id, last_user_id=None)
        session.add(rotation)
    last = rotation.last_user_id
    # Members after the last one assigned come first, so ties rotate.
    ordered = [m for m in members if last is None or m > last] + [
        m for m in members if last is not None and m <= last
    ]
    if team.assignment == "least_loaded":
        loads = dict(
            (
                await session.execute(
                    select(Ticket.assignee_id, func.count())
                    .where(Ticket.assignee_id.in_(members), Ticket.state.in_(OPEN_STATES))
                    .group_by(Ticket.assignee_id)
                )
            ).tuples()
        )
        chosen = min(ordered, key=lambda m: loads.get(m, 0))  # min keeps the first of equals
    else:
        chosen = ordered[0]
    rotation.last_user_id = chosen
    return chosen


async def user_in_team(session: AsyncSession, team_id: int, user_id: int) -> bool:
    team = await session.get(Team, team_id)
    return team is not None and any(m.id == user_id for m in team.members)


async def active_user(session: AsyncSession, user_id: int) -> User | None:
    user = await session.get(User, user_id)
    return user if user is not None and not user.disabled else None
