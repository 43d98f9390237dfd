"""Which checks apply to an endpoint, and what the agent is sent for them.

A check applies to an endpoint named in its endpoint_ids, and to every endpoint matching
its selector: its site (when set) and all of its tags (when set).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.storage.models import Check, Endpoint


@dataclass(frozen=True)
class Where:
    """A check's target, as stored (compared before and after a change)."""

    endpoint_ids: tuple[str, ...]
    site_id: int | None
    tags: tuple[str, ...]

    @classmethod
    def of(cls, check: Check) -> Where:
        return cls(tuple(check.endpoint_ids or ()), check.site_id, tuple(check.tags or ()))

    def applies(self, endpoint_id: str, site_id: int | None, tags: set[str]) -> bool:
        if endpoint_id in self.endpoint_ids:
            return True
        if self.site_id is None and not self.tags:
            return False
        if self.site_id is not None and site_id != self.site_id:
            return False
        return set(self.tags) <= tags


@dataclass(frozen=True)
class CheckOrder:
    """One check as the agent receives it."""

    id: int
    name: str
    check: str
    params: dict[str, Any]
    thresholds: dict[str, Any]
    interval_s: int
    cron: str
    version: int


def version(check: Check) -> int:
    """Changes whenever the definition changes: its last update, in milliseconds."""
    moment = check.updated_at or check.created_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def order(check: Check) -> CheckOrder:
    return CheckOrder(
        id=check.id,
        name=check.name,
        check=check.check,
        params=dict(check.params or {}),
        thresholds=dict(check.thresholds or {}),
        interval_s=check.interval_s or 0,
        cron=check.cron or "",
        version=version(check),
    )


async def enabled_checks(session: AsyncSession) -> list[Check]:
    return list(await session.scalars(select(Check).where(Check.enabled.is_(True))))


def applicable(checks: list[Check], endpoint: Endpoint) -> list[Check]:
    tags = {t.tag for t in endpoint.tags}
    return [c for c in checks if Where.of(c).applies(endpoint.id, endpoint.site_id, tags)]


async def orders_for(session: AsyncSession, endpoint_ids: list[str]) -> dict[str, list[CheckOrder]]:
    """Each endpoint's full check set (unknown or revoked endpoints are left out)."""
    if not endpoint_ids:
        return {}
    checks = await enabled_checks(session)
    endpoints = await session.scalars(
        select(Endpoint).where(Endpoint.id.in_(endpoint_ids), Endpoint.revoked_at.is_(None))
    )
    return {e.id: [order(c) for c in applicable(checks, e)] for e in endpoints}
