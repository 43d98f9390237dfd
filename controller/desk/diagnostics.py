"""What is already known about a ticket's machines, handed over with an escalation.

The next team should not have to ask the caller again: the linked endpoints' latest
inventory (the parts that explain most problems) and their recent runs go with the ticket.
Bounded, so a ticket linked to a whole site does not carry megabytes along.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.storage.models import Endpoint, Inventory, Run, ticket_endpoints
from controller.storage.types import utcnow

MAX_ENDPOINTS = 20
RUNS_PER_ENDPOINT = 10
# Inventory sections worth carrying; processes, software and services lists are long and
# stay one click away on the endpoint.
SECTIONS = ("os", "cpu", "memory", "disks", "network", "users")


def _run_summary(run: Run) -> dict[str, Any]:
    result = run.result or {}
    return {
        "id": run.id,
        "action": run.action,
        "state": run.state,
        "ticket_id": run.ticket_id,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "changed": result.get("changed"),
        "error": result.get("error"),
        "data": result.get("data"),
    }


async def gather(session: AsyncSession, ticket_id: int) -> dict[str, Any]:
    linked = select(ticket_endpoints.c.endpoint_id).where(ticket_endpoints.c.ticket_id == ticket_id)
    endpoints = list(
        await session.scalars(
            select(Endpoint)
            .where(Endpoint.id.in_(linked))
            .order_by(Endpoint.hostname)
            .limit(MAX_ENDPOINTS)
        )
    )
    found = []
    for endpoint in endpoints:
        inventory = await session.get(Inventory, endpoint.id)
        runs = await session.scalars(
            select(Run)
            .where(Run.endpoint_id == endpoint.id)
            .order_by(Run.created_at.desc())
            .limit(RUNS_PER_ENDPOINT)
        )
        found.append(
            {
                "endpoint_id": endpoint.id,
                "hostname": endpoint.hostname,
                "os": endpoint.os_name,
                "connected": endpoint.connected,
                "last_seen": endpoint.last_seen.isoformat() if endpoint.last_seen else None,
                "inventory": None
                if inventory is None
                else {
                    "collected_at": inventory.collected_at.isoformat(),
                    **{s: inventory.data[s] for s in SECTIONS if s in inventory.data},
                },
                "recent_runs": [_run_summary(run) for run in runs],
            }
        )
    return {"gathered_at": utcnow().isoformat(), "endpoints": found}
