"""Applying an agent's inventory messages: full snapshots and section deltas, exactly once."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.errors import InvalidInput, NotFound
from controller.fleet.endpoints import get_endpoint
from controller.fleet.sequence import claim
from controller.storage.models import Endpoint, Inventory, InventoryChange
from controller.storage.types import utcnow

MAX_HISTORY_PAGE = 500


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # already stored: acknowledge again, change nothing
    NEED_FULL = "need_full"  # a delta on a base we do not hold: ask for a full snapshot


@dataclass(frozen=True)
class InventoryMessage:
    seq: int
    full: bool
    base_seq: int
    collected_at: dt.datetime
    sections: dict[str, Any]
    removed: list[str]


def _os_summary(os_section: Any) -> tuple[str, str] | None:
    if not isinstance(os_section, dict):
        return None
    name = " ".join(str(os_section.get(k) or "") for k in ("name", "version")).strip()
    return name, str(os_section.get("family") or "")


async def apply_inventory(
    session: AsyncSession, endpoint_id: str, msg: InventoryMessage
) -> Outcome:
    """Store one durable inventory message in one transaction with the endpoint's sequence."""
    if not await claim(session, endpoint_id, msg.seq):
        return Outcome.DUPLICATE
    endpoint = await session.get(Endpoint, endpoint_id, populate_existing=True)
    assert endpoint is not None  # claim() just updated its row
    latest = await session.get(Inventory, endpoint_id)
    if not msg.full and (latest is None or msg.base_seq != endpoint.inventory_seq):
        await session.commit()
        return Outcome.NEED_FULL
    now = utcnow()
    if msg.full or latest is None:
        data = dict(msg.sections)
    else:
        data = {k: v for k, v in latest.data.items() if k not in msg.removed}
        data.update(msg.sections)
    if latest is None:
        session.add(
            Inventory(
                endpoint_id=endpoint_id, seq=msg.seq, collected_at=msg.collected_at, data=data
            )
        )
    else:
        latest.seq, latest.collected_at, latest.received_at, latest.data = (
            msg.seq,
            msg.collected_at,
            now,
            data,
        )
    session.add(
        InventoryChange(
            endpoint_id=endpoint_id,
            seq=msg.seq,
            full=msg.full,
            collected_at=msg.collected_at,
            received_at=now,
            sections=msg.sections,
            removed=msg.removed,
        )
    )
    endpoint.inventory_seq = msg.seq
    summary = _os_summary(data.get("os"))
    if summary is not None:
        endpoint.os_name, endpoint.os_family = summary[0][:200], summary[1][:20]
    hostname = data.get("os", {}).get("hostname") if isinstance(data.get("os"), dict) else None
    if isinstance(hostname, str) and hostname:
        endpoint.hostname = hostname[:255]
    await session.commit()
    return Outcome.APPLIED


async def latest_inventory(session: AsyncSession, actor: Actor, endpoint_id: str) -> Inventory:
    await get_endpoint(session, actor, endpoint_id)
    inventory = await session.get(Inventory, endpoint_id)
    if inventory is None:
        raise NotFound("inventory of endpoint", endpoint_id)
    return inventory


async def inventory_history(
    session: AsyncSession,
    actor: Actor,
    endpoint_id: str,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[InventoryChange]:
    """Newest first; page with before_id = the last item's id."""
    if not 1 <= limit <= MAX_HISTORY_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_HISTORY_PAGE}")
    await get_endpoint(session, actor, endpoint_id)
    query = select(InventoryChange).where(InventoryChange.endpoint_id == endpoint_id)
    if before_id is not None:
        query = query.where(InventoryChange.id < before_id)
    query = query.order_by(InventoryChange.id.desc()).limit(limit)
    return list(await session.scalars(query))
