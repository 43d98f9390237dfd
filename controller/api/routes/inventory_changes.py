"""What each inventory change of an endpoint changed, section by section and field by field."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.fleet.inventory_diff import (
    MAX_FIELDS,
    InventoryStep,
    Kind,
    inventory_steps,
    shown,
)

router = APIRouter(prefix="/endpoints", tags=["endpoints"])
Reader = Annotated[Actor, Depends(allowed(Permission.ENDPOINTS_READ))]


class FieldChangePublic(BaseModel):
    path: str = Field(description="where in the section, e.g. mounts[/].free")
    kind: Kind
    before: str | None = Field(description="JSON text, cut at 200 characters")
    after: str | None = Field(description="JSON text, cut at 200 characters")


class SectionDiffPublic(BaseModel):
    section: str
    kind: Kind = Field(
        description="added: first reported; removed; changed; "
        "unknown: its earlier copy is too far back to compare"
    )
    fields: list[FieldChangePublic] = Field(description=f"at most {MAX_FIELDS}")
    more: int = Field(description="changed fields left out")


class InventoryStepPublic(BaseModel):
    id: int
    seq: int
    full: bool
    collected_at: dt.datetime
    received_at: dt.datetime
    sections: list[SectionDiffPublic] = Field(description="only the sections that changed")

    @classmethod
    def of(cls, step: InventoryStep) -> InventoryStepPublic:
        sections = [
            SectionDiffPublic(
                section=s.section,
                kind=s.kind,
                fields=[
                    FieldChangePublic(
                        path=f.path, kind=f.kind, before=shown(f.before), after=shown(f.after)
                    )
                    for f in s.fields
                ],
                more=s.more,
            )
            for s in step.sections
        ]
        return cls(
            id=step.id,
            seq=step.seq,
            full=step.full,
            collected_at=step.collected_at,
            received_at=step.received_at,
            sections=sections,
        )


class InventoryChangesPage(BaseModel):
    items: list[InventoryStepPublic]
    next_before: int | None


@router.get("/{endpoint_id}/inventory/changes")
async def changes(
    endpoint_id: str,
    session: SessionDep,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(description="next_before of the previous page")] = None,
) -> InventoryChangesPage:
    """Newest first: each change with what it changed against the section's earlier copy."""
    steps = await inventory_steps(session, actor, endpoint_id, limit=limit, before_id=before)
    return InventoryChangesPage(
        items=[InventoryStepPublic.of(s) for s in steps],
        next_before=steps[-1].id if len(steps) == limit else None,
    )
