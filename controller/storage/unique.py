"""Unique names: the database is the judge, its refusal becomes a Conflict that says why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from controller.errors import Conflict


async def unique(
    session: AsyncSession, write: Callable[[], Awaitable[None]], conflict: str
) -> None:
    """Run write (session.flush or session.commit); a unique-key violation rolls back."""
    try:
        await write()
    except IntegrityError:
        await session.rollback()
        raise Conflict(conflict) from None
