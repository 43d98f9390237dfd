"""Asking for playbook runs, reading and cancelling them, within the actor's role and sites.

Permissions mirror runs: runs:create to start one, runs:approve as well when a step is high
risk (a playbook does not wait half-way for an approval), runs:read to look.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk.visibility import get_visible
from controller.errors import Conflict, InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.playbooks.engine import STATES, TERMINAL
from controller.playbooks.loader import Library
from controller.playbooks.schema import Playbook, input_type_ok
from controller.runs.service import Target
from controller.runs.service import _endpoint_ids as endpoint_ids
from controller.storage.models import Endpoint, PlaybookRun
from controller.storage.types import utcnow


def checked_inputs(
    playbook: Playbook, given: dict[str, Any], field: str = "inputs"
) -> dict[str, Any]:
    """The inputs with defaults filled in; unknown, missing or mistyped ones are refused
    (named field.input in the error)."""
    for name in given:
        if name not in playbook.inputs:
            known = ", ".join(sorted(playbook.inputs)) or "none"
            raise InvalidInput(f"{field}.{name}", f"{playbook.name} has no such input ({known})")
    values: dict[str, Any] = {}
    for name, spec in playbook.inputs.items():
        value = given.get(name, spec.default)
        if value is None:
            if spec.required:
                raise InvalidInput(f"{field}.{name}", "required")
            values[name] = None
            continue
        if not input_type_ok(spec.type, value):
            raise InvalidInput(f"{field}.{name}", f"must be a {spec.type}")
        values[name] = value
    return values


def snapshot(run: PlaybookRun) -> dict[str, Any]:
    return {
        "playbook": run.playbook,
        "endpoint_id": run.endpoint_id,
        "inputs": run.inputs,
        "dry_run": run.dry_run,
        "state": run.state,
        "ticket_id": run.ticket_id,
        "batch_id": run.batch_id,
    }


async def start_playbook_runs(
    session: AsyncSession,
    actor: Actor,
    library: Library,
    name: str,
    inputs: dict[str, Any],
    target: Target,
    *,
    ticket_id: int | None = None,
    dry_run: bool = False,
) -> tuple[str | None, list[PlaybookRun]]:
    """The playbook runs asked for, one per endpoint, queued; the engine plays them."""
    actor.require(Permission.RUNS_CREATE)
    loaded = library.get(name)
    if loaded is None:
        raise InvalidInput("playbook", f"no playbook named {name[:100]!r}")
    playbook = loaded.playbook
    if playbook.high_risk and not dry_run:
        actor.require(Permission.RUNS_APPROVE)
    values = checked_inputs(playbook, inputs)
    if ticket_id is not None:
        try:
            await get_visible(session, actor, ticket_id)
        except NotFound:
            raise InvalidInput("ticket_id", f"no ticket {ticket_id} that you can see") from None
    ids = await endpoint_ids(session, actor, target)
    batch_id = str(uuid.uuid4()) if target.is_selector else None
    now = utcnow()
    runs = [
        PlaybookRun(
            id=str(uuid.uuid4()),
            batch_id=batch_id,
            playbook=name,
            playbook_digest=loaded.digest,
            endpoint_id=endpoint_id,
            ticket_id=ticket_id,
            inputs=values,
            dry_run=dry_run,
            state="queued",
            steps=[],
            summary="",
            requested_by=actor.name,
            correlation_id=actor.request_id,
            created_at=now,
        )
        for endpoint_id in ids
    ]
    session.add_all(runs)
    for run in runs:
        audit.record(session, actor, "request", "playbook_run", run.id, after=snapshot(run))
    await session.commit()
    return batch_id, runs


def _visible(query: Select[Any], actor: Actor) -> Select[Any]:
    if actor.site_ids is None:
        return query
    reachable = select(Endpoint.id).where(Endpoint.site_id.in_(actor.site_ids))
    return query.where(PlaybookRun.endpoint_id.in_(reachable))


async def get_playbook_run(session: AsyncSession, actor: Actor, run_id: str) -> PlaybookRun:
    actor.require(Permission.RUNS_READ)
    query = _visible(select(PlaybookRun).where(PlaybookRun.id == run_id), actor)
    run: PlaybookRun | None = await session.scalar(query.execution_options(populate_existing=True))
    if run is None:
        raise NotFound("playbook run", run_id)
    return run


async def list_playbook_runs(
    session: AsyncSession,
    actor: Actor,
    *,
    batch: str | None = None,
    endpoint_id: str | None = None,
    ticket_id: int | None = None,
    state: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[PlaybookRun]:
    actor.require(Permission.RUNS_READ)
    if state is not None and state not in STATES:
        raise InvalidInput("state", f"one of {', '.join(sorted(STATES))}")
    query = _visible(select(PlaybookRun), actor)
    for column, value in (
        (PlaybookRun.batch_id, batch),
        (PlaybookRun.endpoint_id, endpoint_id),
        (PlaybookRun.ticket_id, ticket_id),
        (PlaybookRun.state, state),
    ):
        if value is not None:
            query = query.where(column == value)
    return await keyset_page(
        session,
        query,
        (PlaybookRun.created_at, PlaybookRun.id),
        limit=limit,
        cursor=cursor,
        newest_first=True,
    )


async def cancel_playbook_run(session: AsyncSession, actor: Actor, run_id: str) -> PlaybookRun:
    """Marked cancelled at once; the engine stops before the next step (and cancels the
    run in flight when it plays in this process)."""
    actor.require(Permission.RUNS_CREATE)
    run = await get_playbook_run(session, actor, run_id)
    if run.state in TERMINAL:
        raise Conflict(f"playbook run {run_id} already {run.state}")
    before = snapshot(run)
    run.state, run.finished_at = "cancelled", utcnow()
    audit.record(
        session, actor, "cancel", "playbook_run", run.id, before=before, after=snapshot(run)
    )
    await session.commit()
    return run
