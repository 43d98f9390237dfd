"""Enrolment tokens: one-time, expiring, optionally carrying a site and tags."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.fleet import enrollment

router = APIRouter(prefix="/enrollment-tokens", tags=["enrollment"])


class EnrollmentTokenCreate(BaseModel):
    site_id: int | None = None
    tags: list[str] = Field(default_factory=list)
    ttl_s: int | None = Field(default=None, ge=60, le=90 * 86400, description="lifetime in seconds")


class EnrollmentTokenPublic(BaseModel):
    token: str = Field(description="shown once; stored only as a hash")
    ca_hash: str
    expires_at: dt.datetime
    site: str | None
    tags: list[str]
    command: str = Field(description="the command that enrols an agent with this token")


@router.post("", status_code=201)
async def create(
    body: EnrollmentTokenCreate,
    session: SessionDep,
    controller: ControllerDep,
    actor: Annotated[Actor, Depends(allowed(Permission.ENROLL))],
) -> EnrollmentTokenPublic:
    issued = await enrollment.create_token(
        session,
        actor,
        controller.ca,
        ttl_s=body.ttl_s or controller.settings.enrollment_token_ttl_s,
        site_id=body.site_id,
        tags=body.tags,
    )
    return EnrollmentTokenPublic(
        token=issued.token,
        ca_hash=issued.ca_hash,
        expires_at=issued.expires_at,
        site=issued.site,
        tags=issued.tags,
        command=controller.enroll_command(issued.token, issued.ca_hash),
    )
