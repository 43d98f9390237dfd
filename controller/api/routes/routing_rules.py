"""Routing rules: the first rule (by position) whose conditions a new ticket meets picks
its team."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, StringConstraints

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.desk import config
from controller.storage.models import RoutingRule

router = APIRouter(prefix="/routing-rules", tags=["routing-rules"])
Reader = Annotated[Actor, Depends(allowed(Permission.TICKETS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.DESK_CONFIG))]

Position = Annotated[int, Field(ge=0, le=config.MAX_POSITION, description="lower goes first")]
Keyword = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=config.MAX_KEYWORD)
]
Keywords = Annotated[
    list[Keyword],
    Field(
        max_length=config.MAX_KEYWORDS,
        description="single words; any one in the title or description (any case) matches; "
        "none: every ticket",
    ),
]


class RoutingRuleCreate(BaseModel):
    position: Position = 100
    team_id: int
    category_id: int | None = Field(default=None, description="matches its whole subtree")
    site_id: int | None = None
    keywords: Keywords = Field(default_factory=list)


class RoutingRuleUpdate(PatchModel):
    nullable = frozenset({"category_id", "site_id"})

    position: Position | None = None
    team_id: int | None = None
    category_id: int | None = None
    site_id: int | None = None
    keywords: Keywords | None = None


class RoutingRulePublic(BaseModel):
    id: int
    position: int
    team_id: int
    category_id: int | None
    site_id: int | None
    keywords: list[str]
    created_at: dt.datetime

    @classmethod
    def of(cls, rule: RoutingRule) -> RoutingRulePublic:
        return cls(id=rule.id, **config.snapshot(config.RULES, rule), created_at=rule.created_at)


@router.get("")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[RoutingRulePublic]:
    """In the order they are tried: by position, then id."""
    page = await config.list_rows(session, actor, config.RULES, limit=limit, cursor=cursor)
    return PageOf(items=[RoutingRulePublic.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: RoutingRuleCreate, session: SessionDep, actor: Writer) -> RoutingRulePublic:
    values = body.model_dump()
    return RoutingRulePublic.of(await config.create(session, actor, config.RULES, values))


@router.get("/{rule_id}")
async def get(rule_id: int, session: SessionDep, actor: Reader) -> RoutingRulePublic:
    return RoutingRulePublic.of(await config.get(session, actor, config.RULES, rule_id))


@router.patch("/{rule_id}")
async def update(
    rule_id: int, body: RoutingRuleUpdate, session: SessionDep, actor: Writer
) -> RoutingRulePublic:
    changes = body.model_dump(exclude_unset=True)
    return RoutingRulePublic.of(await config.update(session, actor, config.RULES, rule_id, changes))


@router.delete("/{rule_id}", status_code=204)
async def delete(rule_id: int, session: SessionDep, actor: Writer) -> Response:
    await config.delete(session, actor, config.RULES, rule_id)
    return Response(status_code=204)
