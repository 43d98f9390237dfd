"""SLA policies: how soon tickets of a priority must be owned and resolved, optionally only
for a site or a category; the most specific matching policy wins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.fields import Name
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.desk import config
from controller.storage.models import SlaPolicy

router = APIRouter(prefix="/sla-policies", tags=["sla-policies"])
Reader = Annotated[Actor, Depends(allowed(Permission.TICKETS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.DESK_CONFIG))]

Priority = Annotated[int, Field(ge=1, le=5, description="1 (critical) to 5 (planning)")]
Seconds = Annotated[int, Field(ge=1, le=config.MAX_SECONDS)]
Percent = Annotated[int, Field(ge=1, le=99, description="warn when this much time is used")]
BreachActions = Annotated[
    list[str],
    Field(
        max_length=len(config.BREACH_ACTIONS),
        description=f"any of {', '.join(config.BREACH_ACTIONS)}, on breach",
    ),
]


class SlaPolicyCreate(BaseModel):
    name: Name
    priority: Priority
    site_id: int | None = Field(default=None, description="null: any site")
    category_id: int | None = Field(default=None, description="null: any category")
    own_within_s: Seconds
    resolve_within_s: Seconds = Field(description="at least own_within_s")
    calendar_id: int | None = Field(default=None, description="null: round the clock")
    use_site_timezone: bool = True
    warn_at_percent: Percent = 75
    breach_actions: BreachActions = Field(default_factory=list)


class SlaPolicyUpdate(PatchModel):
    nullable = frozenset({"site_id", "category_id", "calendar_id"})

    name: Name | None = None
    priority: Priority | None = None
    site_id: int | None = None
    category_id: int | None = None
    own_within_s: Seconds | None = None
    resolve_within_s: Seconds | None = None
    calendar_id: int | None = None
    use_site_timezone: bool | None = None
    warn_at_percent: Percent | None = None
    breach_actions: BreachActions | None = None


class SlaPolicyPublic(BaseModel):
    id: int
    name: str
    priority: int
    site_id: int | None
    category_id: int | None
    own_within_s: int
    resolve_within_s: int
    calendar_id: int | None
    use_site_timezone: bool
    warn_at_percent: int
    breach_actions: list[str]
    created_at: dt.datetime

    @classmethod
    def of(cls, policy: SlaPolicy) -> SlaPolicyPublic:
        fields = config.snapshot(config.POLICIES, policy)
        return cls(id=policy.id, **fields, created_at=policy.created_at)


@router.get("")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[SlaPolicyPublic]:
    page = await config.list_rows(session, actor, config.POLICIES, limit=limit, cursor=cursor)
    return PageOf(items=[SlaPolicyPublic.of(p) for p in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: SlaPolicyCreate, session: SessionDep, actor: Writer) -> SlaPolicyPublic:
    """409 when another policy has the same priority, site and category."""
    values = body.model_dump()
    return SlaPolicyPublic.of(await config.create(session, actor, config.POLICIES, values))


@router.get("/{policy_id}")
async def get(policy_id: int, session: SessionDep, actor: Reader) -> SlaPolicyPublic:
    return SlaPolicyPublic.of(await config.get(session, actor, config.POLICIES, policy_id))


@router.patch("/{policy_id}")
async def update(
    policy_id: int, body: SlaPolicyUpdate, session: SessionDep, actor: Writer
) -> SlaPolicyPublic:
    changes = body.model_dump(exclude_unset=True)
    policy = await config.update(session, actor, config.POLICIES, policy_id, changes)
    return SlaPolicyPublic.of(policy)


@router.delete("/{policy_id}", status_code=204)
async def delete(policy_id: int, session: SessionDep, actor: Writer) -> Response:
    await config.delete(session, actor, config.POLICIES, policy_id)
    return Response(status_code=204)
