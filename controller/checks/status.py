"""Where each check stands on one endpoint: the checks that apply, their state, last result."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.checks.targets import applicable, enabled_checks
from controller.fleet.endpoints import get_endpoint
from controller.storage.models import Check, CheckResult, CheckState


@dataclass(frozen=True)
class Standing:
    check: Check
    state: CheckState | None
    last_result: CheckResult | None


async def endpoint_checks(session: AsyncSession, actor: Actor, endpoint_id: str) -> list[Standing]:
    actor.require(Permission.CHECKS_READ)
    endpoint = await get_endpoint(session, actor, endpoint_id)  # 404 outside the actor's sites
    checks = applicable(await enabled_checks(session), endpoint)
    ids = [c.id for c in checks]
    states = {
        s.check_id: s
        for s in await session.scalars(
            select(CheckState).where(
                CheckState.endpoint_id == endpoint_id, CheckState.check_id.in_(ids)
            )
        )
    }
    result_ids = [s.last_result_id for s in states.values() if s.last_result_id is not None]
    results = {
        r.id: r
        for r in await session.scalars(select(CheckResult).where(CheckResult.id.in_(result_ids)))
    }
    standings = []
    for check in sorted(checks, key=lambda c: c.name):
        state = states.get(check.id)
        last = results.get(state.last_result_id) if state and state.last_result_id else None
        standings.append(Standing(check, state, last))
    return standings
