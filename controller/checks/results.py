"""Check results from agents, stored exactly once, and the state each leaves behind.

A result is stored in the transaction that takes its durable sequence number (like run
updates, and like them in groups: writer.py), so a resend is never stored twice. The
check's state on the endpoint (status, since, last result) moves in the same transaction;
when its status changes, the caller is told (the seam the automation loop builds on).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.checks import STATUSES
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.checks.targets import version
from controller.errors import InvalidInput
from controller.fleet.sequence import take_many
from controller.paging import Page, keyset_page
from controller.storage.models import Check, CheckResult, CheckState, Endpoint

log = logging.getLogger(__name__)
MAX_MESSAGE = 4000
# Core, not the ORM, on the ingestion path: thousands of results a second build no objects.
RESULTS = cast(Table, CheckResult.__table__)
STATES = cast(Table, CheckState.__table__)
_INSERT_STATE = STATES.insert().values(
    check_id=bindparam("k"),
    endpoint_id=bindparam("e"),
    status=bindparam("status"),
    since=bindparam("since"),
    last_result_id=bindparam("result"),
)
_UPDATE_STATE = (
    STATES.update()
    .where(STATES.c.check_id == bindparam("k"), STATES.c.endpoint_id == bindparam("e"))
    .values(
        status=bindparam("status"), since=bindparam("since"), last_result_id=bindparam("result")
    )
)


@dataclass(frozen=True)
class Measured:
    """One durable check result from an agent, as the gateway decoded it."""

    endpoint_id: str
    seq: int
    check_id: int
    version: int
    status: str
    value: Any
    message: str
    evidence: dict[str, Any]
    at: dt.datetime


@dataclass(frozen=True)
class Change:
    """A check's status on an endpoint moved (old_status None: its first result)."""

    check_id: int
    endpoint_id: str
    old_status: str | None
    new_status: str
    result_id: int


async def apply_results(session: AsyncSession, batch: Sequence[Measured]) -> list[Change | None]:
    """Store a group of results in the caller's transaction, in a handful of statements
    whatever its size; for each, the Change when the check's status on the endpoint moved.
    The caller commits (CheckResults, writer.py).

    A resend (its seq stored before) changes nothing. A result for a deleted check takes
    its seq and is dropped. A result of an older version of the check goes into the
    history but leaves the state alone: it was judged by the old definition.
    """
    fresh = await take_many(session, [(m.endpoint_id, m.seq) for m in batch])
    new_ones = [m for m, new in zip(batch, fresh, strict=True) if new]
    checks = await _checks(session, {m.check_id for m in new_ones})
    stored: list[int] = []  # indices into batch
    for i, measured in enumerate(batch):
        if not fresh[i]:
            continue
        if measured.check_id in checks:
            stored.append(i)
        else:
            log.info(
                "endpoint %s: result for deleted check %d",
                measured.endpoint_id,
                measured.check_id,
            )
    result_ids = dict(zip(stored, await _insert(session, [batch[i] for i in stored]), strict=True))
    current = [i for i in stored if batch[i].version >= version(checks[batch[i].check_id])]
    changes = await _move_states(session, [(batch[i], result_ids[i]) for i in current])
    moved = dict(zip(current, changes, strict=True))
    return [moved.get(i) for i in range(len(batch))]


async def _checks(session: AsyncSession, ids: set[int]) -> dict[int, Check]:
    if not ids:
        return {}
    return {c.id: c for c in await session.scalars(select(Check).where(Check.id.in_(ids)))}


async def _insert(session: AsyncSession, stored: list[Measured]) -> list[int]:
    if not stored:
        return []
    rows = [
        {
            "check_id": m.check_id,
            "endpoint_id": m.endpoint_id,
            "status": m.status if m.status in STATUSES else "error",
            "value": m.value,
            "message": m.message[:MAX_MESSAGE],
            "evidence": {**m.evidence, "version": m.version},
            "at": m.at,
            # Follows the result into the loop's ticket entries, playbook runs and runs.
            "correlation_id": f"check-{uuid.uuid4().hex}",
        }
        for m in stored
    ]
    # Matched back by correlation id (unique per result): RETURNING in parameter order
    # would cost SQLite one INSERT per row.
    inserted = await session.execute(
        RESULTS.insert().returning(RESULTS.c.correlation_id, RESULTS.c.id), rows
    )
    ids: dict[str, int] = {correlation_id: id_ for correlation_id, id_ in inserted}
    return [ids[row["correlation_id"]] for row in rows]


async def _move_states(
    session: AsyncSession, current: list[tuple[Measured, int]]
) -> list[Change | None]:
    """Move each check state by its results (with their ids), in order: one read, then
    one statement for the new states and one for the others."""
    if not current:
        return []
    keys = {(m.check_id, m.endpoint_id) for m, _ in current}
    found = await session.execute(
        select(STATES.c.check_id, STATES.c.endpoint_id, STATES.c.status, STATES.c.since)
        .where(tuple_(STATES.c.check_id, STATES.c.endpoint_id).in_(keys))
        .with_for_update()
    )
    stored = {(k, e): (status, since) for k, e, status, since in found}
    now = dict(stored)
    last_result: dict[tuple[int, str], int] = {}
    changes: list[Change | None] = []
    for m, result_id in current:
        key = (m.check_id, m.endpoint_id)
        status = m.status if m.status in STATUSES else "error"
        before = now.get(key)
        last_result[key] = result_id
        if before is not None and before[0] == status:
            changes.append(None)
            continue
        old = None if before is None else before[0]
        changes.append(Change(m.check_id, m.endpoint_id, old, status, result_id))
        now[key] = (status, m.at)
    rows = [
        {"k": k, "e": e, "status": now[k, e][0], "since": now[k, e][1], "result": result_id}
        for (k, e), result_id in last_result.items()
    ]
    if inserts := [row for row in rows if (row["k"], row["e"]) not in stored]:
        await session.execute(_INSERT_STATE, inserts)
    if updates := [row for row in rows if (row["k"], row["e"]) in stored]:
        await session.execute(_UPDATE_STATE, updates)
    return changes


async def list_results(
    session: AsyncSession,
    actor: Actor,
    check: Check,
    *,
    endpoint_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[CheckResult]:
    """The check's results, newest first, from the endpoints the actor can reach."""
    actor.require(Permission.CHECKS_READ)
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"one of {', '.join(STATUSES)}")
    query = select(CheckResult).where(CheckResult.check_id == check.id)
    if endpoint_id is not None:
        query = query.where(CheckResult.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(CheckResult.status == status)
    if actor.site_ids is not None:
        reachable = select(Endpoint.id).where(Endpoint.site_id.in_(actor.site_ids))
        query = query.where(CheckResult.endpoint_id.in_(reachable))
    return await keyset_page(
        session, query, (CheckResult.id,), limit=limit, cursor=cursor, newest_first=True
    )
