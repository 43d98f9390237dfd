"""Webhooks: signed POSTs of ticket events to other systems.

The HMAC secret (X-Deskside-Signature) is shown once, in the response that creates the
webhook; reads only say that one is set.
"""

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
from controller.desk.notify import EVENTS
from controller.storage.models import Webhook

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Admin = Annotated[Actor, Depends(allowed(Permission.DESK_CONFIG))]

Url = Annotated[
    str,
    StringConstraints(min_length=1, max_length=config.MAX_URL),
    Field(description="http or https"),
]
Secret = Annotated[
    str,
    StringConstraints(min_length=config.MIN_SECRET, max_length=config.MAX_SECRET),
    Field(description="the HMAC-SHA256 key; generated when left out"),
]
Events = Annotated[
    list[str],
    Field(max_length=len(EVENTS), description=f"any of {', '.join(EVENTS)}; none: all of them"),
]


class WebhookCreate(BaseModel):
    url: Url
    secret: Secret | None = None
    events: Events = Field(default_factory=list)
    active: bool = True


class WebhookUpdate(PatchModel):
    url: Url | None = None
    secret: Secret | None = Field(default=None, description="a new key: the old one stops")
    events: Events | None = None
    active: bool | None = None


class WebhookPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    secret_set: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookPublic:
        fields = config.snapshot(config.WEBHOOKS, webhook)
        return cls(id=webhook.id, **fields, created_at=webhook.created_at)


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="shown this once: keep it where the receiver can")


@router.get("")
async def list_(
    session: SessionDep, actor: Admin, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[WebhookPublic]:
    page = await config.list_rows(session, actor, config.WEBHOOKS, limit=limit, cursor=cursor)
    return PageOf(items=[WebhookPublic.of(w) for w in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: WebhookCreate, session: SessionDep, actor: Admin) -> WebhookCreated:
    webhook = await config.create(session, actor, config.WEBHOOKS, body.model_dump())
    return WebhookCreated(**WebhookPublic.of(webhook).model_dump(), secret=webhook.secret)


@router.get("/{webhook_id}")
async def get(webhook_id: int, session: SessionDep, actor: Admin) -> WebhookPublic:
    return WebhookPublic.of(await config.get(session, actor, config.WEBHOOKS, webhook_id))


@router.patch("/{webhook_id}")
async def update(
    webhook_id: int, body: WebhookUpdate, session: SessionDep, actor: Admin
) -> WebhookPublic:
    changes = body.model_dump(exclude_unset=True)
    webhook = await config.update(session, actor, config.WEBHOOKS, webhook_id, changes)
    return WebhookPublic.of(webhook)


@router.delete("/{webhook_id}", status_code=204)
async def delete(webhook_id: int, session: SessionDep, actor: Admin) -> Response:
    await config.delete(session, actor, config.WEBHOOKS, webhook_id)
    return Response(status_code=204)
