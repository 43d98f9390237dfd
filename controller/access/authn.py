"""Authentication: API tokens, console sessions, and the first admin.

Single sign-on (OIDC) plugs in beside login(): after the identity provider's callback,
find or create the User for the verified identity and call open_session(); everything
after that (cookies, CSRF, roles, audit) stays as it is. See docs/SECURITY.md.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from controller.access import audit
from controller.access.actor import Actor
from controller.access.passwords import verify_password
from controller.access.roles import Role, may_token_act_as
from controller.errors import Unauthenticated
from controller.secrets import new_secret, secret_hash
from controller.storage.models import ApiToken, ConsoleSession, User
from controller.storage.types import utcnow

# last_used_at is a write; once a minute per token is enough to tell live tokens from dead.
_TOUCH_EVERY = dt.timedelta(minutes=1)


def _actor(
    user: User,
    role: Role,
    request_id: str,
    *,
    token_id: int | None = None,
    session_id: int | None = None,
) -> Actor:
    """The user acting with role (a token's may be narrower than the user's own)."""
    return Actor.for_user(
        user_id=user.id,
        username=user.username,
        role=role,
        owner_role=Role(user.role),
        user_site_ids=[s.id for s in user.sites],
        token_id=token_id,
        session_id=session_id,
        request_id=request_id,
    )


async def ensure_first_admin(session: AsyncSession, bootstrap_token: str | None) -> str | None:
    """On a database without users, create the admin and its first API token.

    Returns the token when this call created it and it was not given by the caller
    (so it must be shown once), else None.
    """
    if await session.scalar(select(func.count()).select_from(User)):
        return None
    admin = User(username="admin", role=Role.ADMIN)
    token = bootstrap_token or new_secret("dsk")
    session.add(admin)
    await session.flush()
    row = ApiToken(
        user_id=admin.id, name="bootstrap", role=Role.ADMIN, token_hash=secret_hash(token)
    )
    session.add(row)
    await session.flush()
    system = Actor.system("controller first start")
    audit.record(
        session, system, "create", "user", admin.id, after={"username": "admin", "role": "admin"}
    )
    audit.record(
        session, system, "create", "token", row.id, after={"name": "bootstrap", "user_id": admin.id}
    )
    await session.commit()
    return None if bootstrap_token else token


async def authenticate_token(session: AsyncSession, token: str, request_id: str = "") -> Actor:
    # One query on every API call: the token, its owner and the owner's sites together.
    query = (
        select(ApiToken)
        .where(ApiToken.token_hash == secret_hash(token))
        .options(joinedload(ApiToken.user).joinedload(User.sites))
    )
    row = (await session.scalars(query)).unique().one_or_none()
    now = utcnow()
    if row is None:
        raise Unauthenticated("unknown API token")
    if row.revoked_at is not None:
        raise Unauthenticated("API token revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("API token expired")
    if row.user.disabled:
        raise Unauthenticated("the token's user is disabled")
    # The owner may have been demoted since: a token never acts above its owner's role now.
    if not may_token_act_as(Role(row.user.role), Role(row.role)):
        raise Unauthenticated(
            f"the token's role {row.role} exceeds its owner's role {row.user.role}"
        )
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        row.last_used_at = now
        await session.commit()
    return _actor(row.user, Role(row.role), request_id, token_id=row.id)


async def login(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    ttl: dt.timedelta,
    user_agent: str = "",
    request_id: str = "",
) -> tuple[ConsoleSession, str]:
    """Check the password and open a console session; returns it and its cookie secret."""
    user = await session.scalar(select(User).where(User.username == username))
    valid = await verify_password(user.password_hash if user else "", password)
    if user is None or not valid or user.disabled:
        audit.record(
            session,
            Actor(name=username[:200], role=Role.REQUESTER, request_id=request_id),
            "login_failed",
            "user",
            user.id if user else "-",
        )
        await session.commit()
        raise Unauthenticated("wrong username or password")
    return await open_session(session, user, ttl=ttl, user_agent=user_agent, request_id=request_id)


async def open_session(
    session: AsyncSession, user: User, *, ttl: dt.timedelta, user_agent: str, request_id: str
) -> tuple[ConsoleSession, str]:
    secret = secrets.token_urlsafe(32)
    console = ConsoleSession(
        user=user,
        secret_hash=secret_hash(secret),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + ttl,
        user_agent=user_agent[:300],
    )
    session.add(console)
    await session.flush()
    actor = _actor(user, Role(user.role), request_id, session_id=console.id)
    audit.record(session, actor, "login", "user", user.id)
    await session.commit()
    return console, secret


async def authenticate_session(
    session: AsyncSession, secret: str, request_id: str = ""
) -> tuple[Actor, ConsoleSession]:
    query = (
        select(ConsoleSession)
        .where(ConsoleSession.secret_hash == secret_hash(secret))
        .options(joinedload(ConsoleSession.user).joinedload(User.sites))
    )
    console = (await session.scalars(query)).unique().one_or_none()
    if console is None or console.revoked_at is not None or console.expires_at <= utcnow():
        raise Unauthenticated("not signed in, or the session has ended")
    if console.user.disabled:
        raise Unauthenticated("the user is disabled")
    actor = _actor(console.user, Role(console.user.role), request_id, session_id=console.id)
    return actor, console


async def logout(session: AsyncSession, actor: Actor, console: ConsoleSession) -> None:
    console.revoked_at = utcnow()
    audit.record(session, actor, "logout", "user", console.user_id)
    await session.commit()
