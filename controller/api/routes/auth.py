"""Console sign-in and sign-out: a session cookie plus a CSRF token."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.authn import login, logout
from controller.api.deps import (
    SESSION_COOKIE,
    ControllerDep,
    SessionDep,
    get_console_session,
    refuse_cross_origin,
    request_id,
)
from controller.storage.models import ConsoleSession

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class LoginResult(BaseModel):
    user_id: int
    username: str
    role: str
    csrf_token: str = Field(description="send as X-CSRF-Token with every change")
    expires_at: dt.datetime


def _secure(request: Request, setting: bool | None) -> bool:
    return setting if setting is not None else request.url.scheme == "https"


@router.post("/login")
async def sign_in(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    controller: ControllerDep,
) -> LoginResult:
    refuse_cross_origin(request)  # a foreign page must not sign a browser into an account
    settings = controller.settings
    console, secret = await login(
        session,
        body.username,
        body.password,
        ttl=dt.timedelta(seconds=settings.session_ttl_s),
        user_agent=request.headers.get("user-agent", ""),
        request_id=request_id(request),
    )
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_ttl_s,
        httponly=True,
        secure=_secure(request, settings.cookie_secure),
        samesite="strict",
        path="/",
    )
    user = console.user
    return LoginResult(
        user_id=user.id,
        username=user.username,
        role=user.role,
        csrf_token=console.csrf_token,
        expires_at=console.expires_at,
    )


@router.post("/logout", status_code=204)
async def sign_out(
    session: SessionDep,
    signed_in: Annotated[tuple[Actor, ConsoleSession], Depends(get_console_session)],
) -> Response:
    actor, console = signed_in
    await logout(session, actor, console)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
