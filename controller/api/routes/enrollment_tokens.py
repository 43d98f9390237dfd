"""Enrolment tokens: one-time, expiring, optionally carrying a site and tags."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from controller.api.deps import AdminDep, ControllerDep, SessionDep
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
    body: EnrollmentTokenCreate, session: SessionDep, controller: ControllerDep, principal: AdminDep
) -> EnrollmentTokenPublic:
    issued = await enrollment.create_token(
        session,
        controller.ca,
        ttl_s=body.ttl_s or controller.settings.enrollment_token_ttl_s,
        site_id=body.site_id,
        tags=body.tags,
        created_by=principal.user_id,
    )
    return EnrollmentTokenPublic(
        token=issued.token,
        ca_hash=issued.ca_hash,
        expires_at=issued.expires_at,
        site=issued.site,
        tags=issued.tags,
        command=controller.enroll_command(issued.token, issued.ca_hash),
    )
