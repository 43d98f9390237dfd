"""Sites: the locations endpoints belong to."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from controller.access import sites
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.fields import Email, Name, Text
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel

router = APIRouter(prefix="/sites", tags=["sites"])
Reader = Annotated[Actor, Depends(allowed(Permission.SITES_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.SITES_WRITE))]


class Contact(BaseModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=50)
    email: Email = ""


class SiteCreate(BaseModel):
    name: Name
    address: Text = ""
    contacts: list[Contact] = Field(default_factory=list, max_length=50)
    hours: str = Field(default="", max_length=200, description="e.g. Mon-Fri 08:00-18:00")
    timezone: str = Field(default="UTC", max_length=64, description="IANA name, e.g. Europe/Paris")


class SiteUpdate(PatchModel):
    name: Name | None = None
    address: Text | None = None
    contacts: list[Contact] | None = Field(default=None, max_length=50)
    hours: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)


class SitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    address: str
    contacts: list[Contact]
    hours: str
    timezone: str
    created_at: dt.datetime
    updated_at: dt.datetime


@router.get("")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[SitePublic]:
    page = await sites.list_sites(session, actor, limit=limit, cursor=cursor)
    return PageOf(
        items=[SitePublic.model_validate(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201)
async def create(body: SiteCreate, session: SessionDep, actor: Writer) -> SitePublic:
    site = await sites.create_site(session, actor, body.model_dump(mode="json"))
    return SitePublic.model_validate(site)


@router.get("/{site_id}")
async def get(site_id: int, session: SessionDep, actor: Reader) -> SitePublic:
    return SitePublic.model_validate(await sites.get_site(session, actor, site_id))


@router.patch("/{site_id}")
async def update(site_id: int, body: SiteUpdate, session: SessionDep, actor: Writer) -> SitePublic:
    changes = body.model_dump(mode="json", exclude_unset=True)
    return SitePublic.model_validate(await sites.update_site(session, actor, site_id, changes))


@router.delete("/{site_id}", status_code=204)
async def delete(site_id: int, session: SessionDep, actor: Writer) -> Response:
    await sites.delete_site(session, actor, site_id)
    return Response(status_code=204)
