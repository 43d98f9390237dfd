"""Open incidents: checks failing (or warning) on endpoints, and what people say about them.

A silence holds the loop for one check on one endpoint until a time (known noise, work in
progress); an acknowledgement says someone is on it and stays until the check recovers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import InvalidInput, NotFound
from controller.storage.models import Check, CheckState, Endpoint
from controller.storage.types import utcnow

MAX_SILENCE = dt.timedelta(days=30)


@dataclass(frozen=True)
class Incident:
    check: Check
    state: CheckState
    hostname: str


async def list_incidents(session: AsyncSession, actor: Actor) -> list[Incident]:
    """Every check not ok on an endpoint the actor can reach, longest-standing first."""
    actor.require(Permission.CHECKS_READ)
    query = (
        select(CheckState, Check, Endpoint.hostname)
        .join(Check, Check.id == CheckState.check_id)
        .join(Endpoint, Endpoint.id == CheckState.endpoint_id)
        .where(CheckState.status.in_(("fail", "warn", "error")))
        .order_by(CheckState.since)
        .limit(5000)
    )
    if actor.site_ids is not None:
        query = query.where(Endpoint.site_id.in_(actor.site_ids))
    rows = await session.execute(query)
    return [Incident(check, state, hostname) for state, check, hostname in rows]


async def _state(
    session: AsyncSession, actor: Actor, check_id: int, endpoint_id: str
) -> CheckState:
    query = (
        select(CheckState)
        .join(Endpoint, Endpoint.id == CheckState.endpoint_id)
        .where(CheckState.check_id == check_id, CheckState.endpoint_id == endpoint_id)
    )
    if actor.site_ids is not None:
        query = query.where(Endpoint.site_id.in_(actor.site_ids))
    state = await session.scalar(query)
    if state is None:
        raise NotFound("check state", f"{check_id}/{endpoint_id}")
    return state


async def silence(
    session: AsyncSession,
    actor: Actor,
    check_id: int,
    endpoint_id: str,
    until: dt.datetime,
    reason: str,
) -> CheckState:
    actor.require(Permission.CHECKS_WRITE)
    if until.tzinfo is None:
        raise InvalidInput("until", "needs a time zone")
    now = utcnow()
    if until <= now or until - now > MAX_SILENCE:
        raise InvalidInput("until", "a time in the next 30 days")
    if not reason.strip():
        raise InvalidInput("reason", "say why the check is silenced")
    state = await _state(session, actor, check_id, endpoint_id)
    before = {"silenced_until": state.silenced_until.isoformat() if state.silenced_until else None}
    state.silenced_until = until
    audit.record(
        session,
        actor,
        "silence",
        "check_state",
        f"{check_id}/{endpoint_id}",
        before=before,
        after={"silenced_until": until.isoformat(), "reason": reason.strip()},
    )
    await session.commit()
    return state


async def acknowledge(
    session: AsyncSession, actor: Actor, check_id: int, endpoint_id: str
) -> CheckState:
    actor.require(Permission.TICKETS_WRITE)  # an analyst takes it on; auditors only watch
    state = await _state(session, actor, check_id, endpoint_id)
    if state.status == "ok":
        raise InvalidInput("check_id", "the check is ok on that endpoint: nothing to acknowledge")
    before = {"acknowledged_by": state.acknowledged_by}
    state.acknowledged_by = actor.name
    audit.record(
        session,
        actor,
        "acknowledge",
        "check_state",
        f"{check_id}/{endpoint_id}",
        before=before,
        after={"acknowledged_by": actor.name},
    )
    await session.commit()
    return state
