"""Exactly once: every durable agent message is stored in the transaction that raises last_seq."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from controller.errors import NotFound
from controller.storage.models import Endpoint


async def claim(session: AsyncSession, endpoint_id: str, seq: int) -> bool:
    """Take seq for the endpoint; False when it was stored before (a resend).

    One conditional UPDATE both checks and raises last_seq, and holds the row's write
    lock until the caller commits: the message and the new last_seq land together or
    not at all, and a concurrent resend of the same seq finds it taken.
    """
    if not await take(session, endpoint_id, seq):
        await session.rollback()
        if await session.get(Endpoint, endpoint_id) is None:
            raise NotFound("endpoint", endpoint_id)
        return False
    return True


async def take(session: AsyncSession, endpoint_id: str, seq: int) -> bool:
    """claim() within a larger transaction: a seq stored before changes nothing, so the
    transaction goes on for the other messages in it. False too for an unknown endpoint."""
    taken = await session.execute(
        update(Endpoint)
        .where(Endpoint.id == endpoint_id, Endpoint.last_seq < seq)
        .values(last_seq=seq)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]
