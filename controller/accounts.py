"""Users and API tokens: the first admin, and who a bearer token belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.errors import Unauthenticated
from controller.secrets import new_secret, secret_hash
from controller.storage.models import ApiToken, User
from controller.storage.types import utcnow

ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    token_id: int


async def ensure_first_admin(session: AsyncSession, bootstrap_token: str | None) -> str | None:
    """On a database without users, create the admin and its first API token.

    Returns the token when this call created it and it was not given by the caller
    (so it must be shown once), else None.
    """
    if await session.scalar(select(func.count()).select_from(User)):
        return None
    admin = User(username="admin", role=ADMIN)
    token = bootstrap_token or new_secret("dsk")
    session.add(admin)
    await session.flush()
    session.add(ApiToken(user_id=admin.id, name="bootstrap", token_hash=secret_hash(token)))
    await session.commit()
    return None if bootstrap_token else token


async def authenticate(session: AsyncSession, token: str) -> Principal:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == secret_hash(token)))
    if row is None:
        raise Unauthenticated("unknown API token")
    if row.revoked_at is not None:
        raise Unauthenticated("API token revoked")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise Unauthenticated("API token expired")
    return Principal(row.user_id, row.user.username, row.user.role, row.id)
