"""Exactly once: every durable agent message is stored in the transaction that raises last_seq."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from controller.errors import NotFound
from controller.storage.models import Endpoint

_ENDPOINTS = cast(Table, Endpoint.__table__)
# Core, one executemany: the ORM's bulk UPDATE costs more than the statement itself.
_RAISE = (
    _ENDPOINTS.update().where(_ENDPOINTS.c.id == bindparam("e")).values(last_seq=bindparam("seq"))
)


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


async def take_many(session: AsyncSession, messages: Sequence[tuple[str, int]]) -> list[bool]:
    """take() for a group of (endpoint_id, seq) in arrival order, in two statements: which
    are new. The first statement write-locks the endpoints' rows (on SQLite, the database)
    before their last_seq is read, so no other writer can take the same seqs meanwhile.

    seq 0 is a message the controller measured itself (an agentless endpoint's check): not
    spooled by an agent, so never resent: always new, and last_seq is left alone."""
    if not messages:
        return []
    locked = await session.execute(
        update(Endpoint)
        .where(Endpoint.id.in_(sorted({endpoint_id for endpoint_id, _ in messages})))
        .values(last_seq=Endpoint.last_seq)
        .returning(Endpoint.id, Endpoint.last_seq)
        .execution_options(synchronize_session=False)
    )
    last: dict[str, int] = {endpoint_id: seq for endpoint_id, seq in locked}
    before = dict(last)
    fresh = []
    for endpoint_id, seq in messages:
        new = endpoint_id in last and (seq == 0 or seq > last[endpoint_id])
        if new and seq:
            last[endpoint_id] = seq
        fresh.append(new)
    raised = [{"e": e, "seq": seq} for e, seq in last.items() if seq != before[e]]
    if raised:
        await session.execute(_RAISE, raised)
    return fresh
