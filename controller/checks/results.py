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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.checks import STATUSES
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.checks.targets import version
from controller.errors import InvalidInput
from controller.fleet.sequence import take
from controller.paging import Page, keyset_page
from controller.storage.models import Check, CheckResult, CheckState, Endpoint

log = logging.getLogger(__name__)
MAX_MESSAGE = 4000


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


async def apply_result(session: AsyncSession, measured: Measured) -> Change | None:
    """Store one result in the caller's transaction; the Change when the check's status on
    the endpoint moved. The caller commits (CheckResults, writer.py, many in one go).

    A resend (its seq stored before) changes nothing. A result for a deleted check takes
    its seq and is dropped. A result of an older version of the check goes into the
    history but leaves the state alone: it was judged by the old definition.
    """
    if not await take(session, measured.endpoint_id, measured.seq):
        return None
    check = await session.get(Check, measured.check_id)
    status = measured.status if measured.status in STATUSES else "error"
    if check is None:
        log.info(
            "endpoint %s: result for deleted check %d", measured.endpoint_id, measured.check_id
        )
        return None
    result = CheckResult(
        check_id=check.id,
        endpoint_id=measured.endpoint_id,
        status=status,
        value=measured.value,
        message=measured.message[:MAX_MESSAGE],
        evidence={**measured.evidence, "version": measured.version},
        at=measured.at,
        # Follows the result into the loop's ticket entries, playbook runs and runs.
        correlation_id=f"check-{uuid.uuid4().hex}",
    )
    session.add(result)
    await session.flush()
    if measured.version >= version(check):
        return await _move_state(session, result)
    return None


async def _move_state(session: AsyncSession, result: CheckResult) -> Change | None:
    state = await session.get(
        CheckState, (result.check_id, result.endpoint_id), with_for_update=True
    )
    if state is None:
        session.add(
            CheckState(
                check_id=result.check_id,
                endpoint_id=result.endpoint_id,
                status=result.status,
                since=result.at,
                last_result_id=result.id,
            )
        )
        await session.flush()  # a later result of the same group finds it
        return Change(result.check_id, result.endpoint_id, None, result.status, result.id)
    state.last_result_id = result.id
    if state.status == result.status:
        return None
    old, state.status, state.since = state.status, result.status, result.at
    return Change(result.check_id, result.endpoint_id, old, result.status, result.id)


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
