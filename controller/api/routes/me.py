"""The caller: who they are, what they may do, and their own profile and password."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from controller.access import users
from controller.api.deps import ActorDep, SessionDep
from controller.api.fields import Email
from controller.api.patching import PatchModel
from controller.api.routes.users import Password, UserPublic

router = APIRouter(prefix="/me", tags=["me"])


class MePublic(BaseModel):
    user: UserPublic | None
    role: str = Field(description="the role this request acts with (a token's may be narrower)")
    permissions: list[str]
    site_ids: list[int] | None = Field(description="null: every site")
    via: str = Field(description="token or session")
    csrf_token: str | None = Field(default=None, description="send as X-CSRF-Token (sessions)")


class MeUpdate(PatchModel):
    full_name: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    password: Password | None = None
    current_password: str | None = Field(default=None, max_length=1024)


async def _me(request: Request, session: SessionDep, actor: ActorDep) -> MePublic:
    user = await users.get_user(session, actor, actor.user_id) if actor.user_id else None
    console = getattr(request.state, "console_session", None)
    return MePublic(
        user=UserPublic.of(user) if user else None,
        role=actor.role,
        permissions=sorted(actor.permissions),
        site_ids=sorted(actor.site_ids) if actor.site_ids is not None else None,
        via="session" if actor.session_id is not None else "token",
        csrf_token=console.csrf_token if console is not None else None,
    )


@router.get("")
async def get(request: Request, session: SessionDep, actor: ActorDep) -> MePublic:
    return await _me(request, session, actor)


@router.patch("")
async def update(
    request: Request, body: MeUpdate, session: SessionDep, actor: ActorDep
) -> MePublic:
    await users.update_me(session, actor, body.model_dump(exclude_unset=True))
    return await _me(request, session, actor)
