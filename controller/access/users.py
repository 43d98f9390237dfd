"""Users: role, site scope for USAs, password for the console, and the guard on the last admin."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.passwords import check_strength, hash_password, verify_password
from controller.access.roles import SITE_SCOPED, Permission, Role
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.storage.models import Site, User
from controller.storage.unique import unique

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PROFILE = ("full_name", "email")


def snapshot(user: User) -> dict[str, Any]:
    """What the audit trail keeps of a user: never the password hash."""
    return {
        "username": user.username,
        "role": user.role,
        "full_name": user.full_name,
        "email": user.email,
        "disabled": user.disabled,
        "site_ids": sorted(s.id for s in user.sites),
    }


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("role", f"one of {', '.join(r.value for r in Role)}") from None


def _check_profile(values: dict[str, Any]) -> None:
    email = values.get("email")
    if email and not EMAIL.fullmatch(email):
        raise InvalidInput("email", "not an e-mail address")


async def _sites(session: AsyncSession, role: Role, site_ids: list[int]) -> list[Site]:
    if role not in SITE_SCOPED:
        if site_ids:
            raise InvalidInput(
                "site_ids", f"only {', '.join(SITE_SCOPED)} users are scoped to sites"
            )
        return []
    if not site_ids:
        raise InvalidInput("site_ids", f"a {role} user needs at least one site")
    sites = list(await session.scalars(select(Site).where(Site.id.in_(site_ids))))
    missing = sorted(set(site_ids) - {s.id for s in sites})
    if missing:
        raise InvalidInput("site_ids", f"no site with id {missing[0]}")
    return sites


async def _enabled_admins(session: AsyncSession) -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN, User.disabled.is_(False))
    )
    return int(await session.scalar(query) or 0)


async def list_users(
    session: AsyncSession, actor: Actor, *, limit: int, cursor: str | None
) -> Page[User]:
    actor.require(Permission.USERS_READ)
    return await keyset_page(session, select(User), (User.id,), limit=limit, cursor=cursor)


async def get_user(session: AsyncSession, actor: Actor, user_id: int) -> User:
    if user_id != actor.user_id:
        actor.require(Permission.USERS_READ)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    username: str,
    role: str,
    password: str | None = None,
    site_ids: list[int] | None = None,
    full_name: str = "",
    email: str = "",
) -> User:
    actor.require(Permission.USERS_WRITE)
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            "username", "1-100 letters, digits or . _ @ -, starting with a letter or digit"
        )
    checked_role = _role(role)
    _check_profile({"email": email})
    if password is not None:
        check_strength(password)
    sites = await _sites(session, checked_role, site_ids or [])
    user = User(
        username=username,
        role=checked_role,
        full_name=full_name,
        email=email,
        password_hash=await hash_password(password) if password else "",
        sites=sites,
    )
    session.add(user)
    await unique(session, session.flush, f"a user named {username!r} exists")
    audit.record(session, actor, "create", "user", user.id, after=snapshot(user))
    await session.commit()
    return user


async def update_user(
    session: AsyncSession, actor: Actor, user_id: int, changes: dict[str, Any]
) -> User:
    actor.require(Permission.USERS_WRITE)
    user = await get_user(session, actor, user_id)
    before = snapshot(user)
    role = _role(changes["role"]) if "role" in changes else Role(user.role)
    if "role" in changes or "site_ids" in changes:
        site_ids = changes.get("site_ids")
        if site_ids is None:
            site_ids = [s.id for s in user.sites] if role in SITE_SCOPED else []
        user.sites = await _sites(session, role, site_ids)
        user.role = role
    _check_profile(changes)
    for field in PROFILE:
        if field in changes:
            setattr(user, field, changes[field])
    if "disabled" in changes:
        if changes["disabled"] and user.id == actor.user_id:
            raise Conflict("you cannot disable your own account")
        user.disabled = bool(changes["disabled"])
    if changes.get("password") is not None:
        check_strength(changes["password"])
        user.password_hash = await hash_password(changes["password"])
    await session.flush()
    if before["role"] == Role.ADMIN and await _enabled_admins(session) == 0:
        await session.rollback()
        raise Conflict("this would leave no enabled admin")
    after = snapshot(user)
    if "password" in changes:
        after["password"] = "changed"  # noqa: S105 - the fact, never the value
    audit.record(session, actor, "update", "user", user.id, before=before, after=after)
    await session.commit()
    await session.refresh(user)
    return user


async def delete_user(session: AsyncSession, actor: Actor, user_id: int) -> None:
    actor.require(Permission.USERS_WRITE)
    user = await get_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise Conflict("you cannot delete your own account")
    before = snapshot(user)
    await session.delete(user)
    await session.flush()
    if before["role"] == Role.ADMIN and await _enabled_admins(session) == 0:
        await session.rollback()
        raise Conflict("this would leave no enabled admin")
    audit.record(session, actor, "delete", "user", user_id, before=before)
    await session.commit()


async def update_me(session: AsyncSession, actor: Actor, changes: dict[str, Any]) -> User:
    """Anyone may change their own profile and password (knowing the current one)."""
    if actor.user_id is None:
        raise Forbidden("only users have a profile")
    user = await get_user(session, actor, actor.user_id)
    before = snapshot(user)
    _check_profile(changes)
    for field in PROFILE:
        if field in changes:
            setattr(user, field, changes[field])
    after = snapshot(user)
    if changes.get("password") is not None:
        # A token-only account (the first admin, say) sets its first password without one.
        current = changes.get("current_password") or ""
        if user.password_hash and not await verify_password(user.password_hash, current):
            raise InvalidInput("current_password", "does not match your current password")
        check_strength(changes["password"])
        user.password_hash = await hash_password(changes["password"])
        after["password"] = "changed"  # noqa: S105 - the fact, never the value
    audit.record(session, actor, "update", "user", user.id, before=before, after=after)
    await session.commit()
    await session.refresh(user)
    return user
