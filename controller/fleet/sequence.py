"""Exactly once: every durable agent message is stored in the transaction that raises last_seq."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.errors import NotFound
from controller.storage.models import Endpoint


async def claim(session: AsyncSession, endpoint_id: str, seq: int) -> Endpoint | None:
    """Lock the endpoint and take seq; None when it was stored before (a resend).

    The caller applies the message and commits: the message and the new last_seq land
    together or not at all.
    """
    query = select(Endpoint).where(Endpoint.id == endpoint_id).with_for_update(of=Endpoint)
    endpoint = await session.scalar(query)
    if endpoint is None:
        raise NotFound("endpoint", endpoint_id)
    if seq <= endpoint.last_seq:
        await session.rollback()
        return None
    endpoint.last_seq = seq
    return endpoint
