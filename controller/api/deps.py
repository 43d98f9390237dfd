"""Annotated dependencies shared by the routers.

Who is asking (Actor) comes from a bearer API token or a console session cookie. Cookie
requests that change something must also carry the session's CSRF token in X-CSRF-Token
and come from this site's own origin. Routes declare their permission with allowed();
the check itself is the domain's (Actor.require), so it is written once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.access.authn import authenticate_session, authenticate_token
from controller.access.roles import Permission
from controller.container import Controller
from controller.errors import Forbidden, Unauthenticated
from controller.storage.models import ConsoleSession

SESSION_COOKIE = "deskside_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer dsk_...`")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="A console session")


def get_controller(request: Request) -> Controller:
    controller: Controller = request.app.state.controller
    return controller


ControllerDep = Annotated[Controller, Depends(get_controller)]


async def get_session(controller: ControllerDep) -> AsyncIterator[AsyncSession]:
    async with controller.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def refuse_cross_origin(request: Request) -> None:
    """Browsers send Origin on cross-site POSTs; scripts may send none, which is fine."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("cross-origin request refused (Origin does not match this site)")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


async def _from_cookie(
    request: Request, session: AsyncSession, secret: str
) -> tuple[Actor, ConsoleSession]:
    actor, console = await authenticate_session(session, secret, request_id(request))
    if request.method not in SAFE_METHODS:
        if not _same_origin(request):
            raise Forbidden("cross-origin request refused (Origin does not match this site)")
        if request.headers.get(CSRF_HEADER) != console.csrf_token:
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header")
    request.state.console_session = console
    return actor, console


async def get_console_session(
    request: Request,
    session: SessionDep,
    cookie: Annotated[str | None, Depends(_cookie)],
) -> tuple[Actor, ConsoleSession]:
    if not cookie:
        raise Unauthenticated("not signed in")
    return await _from_cookie(request, session, cookie)


async def get_actor(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Actor:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return await authenticate_token(session, credentials.credentials, request_id(request))
    if cookie:
        return (await _from_cookie(request, session, cookie))[0]
    raise Unauthenticated(
        "an API token (Authorization: Bearer ...) or a console session is required"
    )


ActorDep = Annotated[Actor, Depends(get_actor)]


def allowed(permission: Permission) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency: the actor, once the domain agrees they hold permission."""

    async def check(actor: ActorDep) -> Actor:
        actor.require(permission)
        return actor

    check.__name__ = f"allowed_{permission.name.lower()}"
    return check
