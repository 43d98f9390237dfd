"""The action catalogue: what can be run, its risk, and its parameters as JSON Schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from catalogue.registry import CATALOGUE
from catalogue.spec import ActionSpec
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import allowed

router = APIRouter(prefix="/actions", tags=["runs"])
Reader = Annotated[Actor, Depends(allowed(Permission.RUNS_READ))]


class ActionPublic(BaseModel):
    name: str
    risk: str = Field(description="read, low, medium or high (high waits for approval)")
    summary: str
    dry_run: bool = Field(description="can preview what it would change")
    params: dict[str, Any] = Field(description="the parameters as JSON Schema")

    @classmethod
    def of(cls, spec: ActionSpec) -> ActionPublic:
        return cls(
            name=spec.name,
            risk=spec.risk,
            summary=spec.summary,
            dry_run=spec.dry_run,
            params=spec.params.model_json_schema(),
        )


@router.get("")
async def list_(actor: Reader) -> list[ActionPublic]:
    return [ActionPublic.of(spec) for spec in CATALOGUE.values()]
