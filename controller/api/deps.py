"""Annotated dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from controller.accounts import ADMIN, Principal, authenticate
from controller.container import Controller
from controller.errors import Forbidden, Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer dsk_...`")


def get_controller(request: Request) -> Controller:
    controller: Controller = request.app.state.controller
    return controller


ControllerDep = Annotated[Controller, Depends(get_controller)]


async def get_session(controller: ControllerDep) -> AsyncIterator[AsyncSession]:
    async with controller.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("an API token is required: Authorization: Bearer <token>")
    return await authenticate(session, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if principal.role != ADMIN:
        raise Forbidden(f"role {principal.role!r} may not do this")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
