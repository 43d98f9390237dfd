"""Sites: the locations endpoints belong to."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from controller.api.deps import AdminDep, PrincipalDep, SessionDep
from controller.errors import Conflict
from controller.storage.models import Site

router = APIRouter(prefix="/sites", tags=["sites"])


class SiteCreate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class SitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    created_at: dt.datetime


class SitesPage(BaseModel):
    items: list[SitePublic]
    next_cursor: str | None = None


@router.post("", status_code=201)
async def create(body: SiteCreate, session: SessionDep, _: AdminDep) -> SitePublic:
    site = Site(name=body.name)
    session.add(site)
    try:
        await session.commit()
    except IntegrityError:
        raise Conflict(f"a site named {body.name!r} exists") from None
    return SitePublic.model_validate(site)


@router.get("")
async def list_(session: SessionDep, _: PrincipalDep) -> SitesPage:
    sites = await session.scalars(select(Site).order_by(Site.name))
    return SitesPage(items=[SitePublic.model_validate(s) for s in sites])
