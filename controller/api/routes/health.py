"""Liveness and readiness, without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from controller import __version__
from controller.api.deps import ControllerDep

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health")
async def health(controller: ControllerDep) -> HealthPublic:
    async with controller.sessions() as session:
        await session.execute(text("SELECT 1"))
    return HealthPublic(status="ok", version=__version__, database=controller.engine.dialect.name)
