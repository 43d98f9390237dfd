"""A ticket's timeline: its events and the runs asked for it, in one order.

Events are written in the transaction of the change they record. Runs carry the ticket's
id (runs.ticket_id), so the timeline reads them from there: the run's own record, with its
evidence, is the one source of truth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.desk.visibility import get_visible, is_staff
from controller.storage.models import Endpoint, Run, Ticket, TicketEvent

KINDS = frozenset(
    {
        "created",
        "comment",
        "state",
        "assignment",
        "escalation",
        "sla",
        "notification",
        "field",
        "link",
        "attachment",
        "follow_up",
        "check",
        "playbook",
        "survey",  # the requester's satisfaction answer (controller/desk/surveys.py)
        "self_service",  # a fix the requester ran (controller/runs/self_service.py)
    }
)
MAX_ENTRIES = 5000


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    kind: str
    public: bool
    actor: str
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    event_id: int | None = None
    run_id: str | None = None


def record(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    actor: str,
    *,
    body: str = "",
    public: bool = False,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    assert kind in KINDS, kind
    event = TicketEvent(
        ticket_id=ticket.id, kind=kind, actor=actor, body=body, public=public, data=data or {}
    )
    session.add(event)
    return event


def _run_entry(run: Run, hostname: str | None) -> Entry:
    result = run.result or {}
    return Entry(
        at=run.created_at,
        kind="run",
        public=False,
        actor=run.requested_by,
        body=f"{run.action} on {hostname or run.endpoint_id}: {run.state}",
        data={
            "run_id": run.id,
            "action": run.action,
            "params": run.params,
            "endpoint_id": run.endpoint_id,
            "hostname": hostname,
            "state": run.state,
            "dry_run": run.dry_run,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "changed": result.get("changed"),
            "evidence": result.get("evidence"),
            "error": result.get("error"),
            "output": result.get("output"),
        },
        run_id=run.id,
    )


async def timeline(session: AsyncSession, actor: Actor, ticket_id: int) -> list[Entry]:
    """Everything that happened to the ticket, oldest first; requesters see public entries."""
    ticket = await get_visible(session, actor, ticket_id)
    staff = is_staff(actor)
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if not staff:
        query = query.where(TicketEvent.public.is_(True))
    events = await session.scalars(query.order_by(TicketEvent.id).limit(MAX_ENTRIES))
    entries = [
        Entry(e.at, e.kind, e.public, e.actor, e.body, e.data, event_id=e.id) for e in events
    ]
    if staff:
        runs = await session.execute(
            select(Run, Endpoint.hostname)
            .outerjoin(Endpoint, Endpoint.id == Run.endpoint_id)
            .where(Run.ticket_id == ticket.id)
            .order_by(Run.created_at)
            .limit(1000)
        )
        entries += [_run_entry(run, hostname) for run, hostname in runs.tuples()]
    # Stable: events keep their insertion order among equal times.
    return sorted(entries, key=lambda entry: entry.at)
