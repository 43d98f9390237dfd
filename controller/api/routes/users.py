"""Users: who works the desk, their role and, for USAs, their sites."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from controller.access import users
from controller.access.actor import Actor
from controller.access.roles import Permission, Role
from controller.api.deps import SessionDep, allowed
from controller.api.fields import Email
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.storage.models import User

router = APIRouter(prefix="/users", tags=["users"])
Reader = Annotated[Actor, Depends(allowed(Permission.USERS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.USERS_WRITE))]
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class UserCreate(BaseModel):
    username: str = Field(max_length=100)
    password: Password | None = Field(
        default=None, description="for the console; none: API tokens only"
    )
    role: Role
    site_ids: list[int] = Field(
        default_factory=list, description="required for usa, empty otherwise"
    )
    full_name: str = Field(default="", max_length=200)
    email: Email = ""


class UserUpdate(PatchModel):
    role: Role | None = None
    site_ids: list[int] | None = None
    full_name: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    disabled: bool | None = None
    password: Password | None = None


class UserPublic(BaseModel):
    id: int
    username: str
    role: Role
    site_ids: list[int]
    full_name: str
    email: str
    disabled: bool
    has_password: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            id=user.id,
            username=user.username,
            role=Role(user.role),
            site_ids=[s.id for s in user.sites],
            full_name=user.full_name,
            email=user.email,
            disabled=user.disabled,
            has_password=bool(user.password_hash),
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


@router.get("")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[UserPublic]:
    page = await users.list_users(session, actor, limit=limit, cursor=cursor)
    return PageOf(items=[UserPublic.of(u) for u in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: UserCreate, session: SessionDep, actor: Writer) -> UserPublic:
    user = await users.create_user(session, actor, **body.model_dump())
    return UserPublic.of(user)


@router.get("/{user_id}")
async def get(user_id: int, session: SessionDep, actor: Reader) -> UserPublic:
    return UserPublic.of(await users.get_user(session, actor, user_id))


@router.patch("/{user_id}")
async def update(user_id: int, body: UserUpdate, session: SessionDep, actor: Writer) -> UserPublic:
    changes = body.model_dump(exclude_unset=True)
    return UserPublic.of(await users.update_user(session, actor, user_id, changes))


@router.delete("/{user_id}", status_code=204)
async def delete(user_id: int, session: SessionDep, actor: Writer) -> Response:
    await users.delete_user(session, actor, user_id)
    return Response(status_code=204)
