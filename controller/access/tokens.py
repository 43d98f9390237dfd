"""API tokens: named, scoped to a role no wider than their owner's, expiring, revocable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission, Role, may_token_act_as
from controller.errors import InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.secrets import new_secret, secret_hash
from controller.storage.models import ApiToken, User
from controller.storage.types import utcnow

DEFAULT_LIFETIME = dt.timedelta(days=90)
MAX_LIFETIME = dt.timedelta(days=2 * 365)


@dataclass(frozen=True)
class IssuedToken:
    row: ApiToken
    token: str  # shown once


def snapshot(token: ApiToken) -> dict[str, Any]:
    """Never the secret nor its hash."""
    return {
        "name": token.name,
        "user_id": token.user_id,
        "role": token.role,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked": token.revoked_at is not None,
    }


def _may_see_all(actor: Actor) -> bool:
    return actor.can(Permission.TOKENS_ALL) or actor.can(Permission.TOKENS_READ_ALL)


async def create_token(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    user_id: int | None = None,
    expires_at: dt.datetime | None = None,
    role: str | None = None,
) -> IssuedToken:
    owner_id = actor.user_id if user_id is None else user_id
    actor.require(Permission.TOKENS_OWN if owner_id == actor.user_id else Permission.TOKENS_ALL)
    owner = await session.get(User, owner_id) if owner_id is not None else None
    if owner is None:
        raise InvalidInput("user_id", f"no user with id {owner_id}")
    if owner.disabled:
        raise InvalidInput("user_id", "the user is disabled")
    token_role = Role(owner.role)
    if role is not None:
        try:
            token_role = Role(role)
        except ValueError:
            raise InvalidInput("role", f"one of {', '.join(r.value for r in Role)}") from None
        if not may_token_act_as(Role(owner.role), token_role):
            raise InvalidInput("role", f"a {owner.role} user's token cannot act as {token_role}")
    now = utcnow()
    expires = expires_at if expires_at is not None else now + DEFAULT_LIFETIME
    if expires.tzinfo is None:
        raise InvalidInput("expires_at", "give a time zone (e.g. 2027-01-31T00:00:00Z)")
    if not now < expires <= now + MAX_LIFETIME:
        raise InvalidInput(
            "expires_at", f"must be in the future and within {MAX_LIFETIME.days} days"
        )
    secret = new_secret("dsk")
    row = ApiToken(
        user_id=owner.id,
        name=name,
        role=token_role,
        token_hash=secret_hash(secret),
        expires_at=expires,
    )
    session.add(row)
    await session.flush()
    audit.record(session, actor, "create", "token", row.id, after=snapshot(row))
    await session.commit()
    return IssuedToken(row, secret)


async def list_tokens(
    session: AsyncSession, actor: Actor, *, user_id: int | None, limit: int, cursor: str | None
) -> Page[ApiToken]:
    actor.require(Permission.TOKENS_OWN)
    query = select(ApiToken)
    if not _may_see_all(actor):
        query = query.where(ApiToken.user_id == actor.user_id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return await keyset_page(session, query, (ApiToken.id,), limit=limit, cursor=cursor)


async def revoke_token(session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
    actor.require(Permission.TOKENS_OWN)
    row = await session.get(ApiToken, token_id)
    own = row is not None and row.user_id == actor.user_id
    if row is None or not (own or _may_see_all(actor)):
        raise NotFound("token", token_id)
    if not own:
        actor.require(Permission.TOKENS_ALL)
    if row.revoked_at is None:
        before = snapshot(row)
        row.revoked_at = utcnow()
        audit.record(session, actor, "revoke", "token", row.id, before=before, after=snapshot(row))
        await session.commit()
    return row
