"""Creating, reading, cancelling and approving runs, within the actor's role and sites."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue import CatalogueError, Risk
from catalogue import get as get_action
from catalogue import validate as validate_params
from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk.visibility import get_visible
from controller.errors import Conflict, InvalidInput, NotFound
from controller.fleet.endpoints import scoped
from controller.paging import Page, keyset_page
from controller.storage.models import Endpoint, EndpointTag, Run, Site
from controller.storage.types import utcnow

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "expired", "interrupted"})
STATES = frozenset({"queued", "sent", "running"}) | TERMINAL
DEFAULT_LIFETIME = dt.timedelta(hours=24)
MAX_TARGETS = 10_000


@dataclass(frozen=True)
class Target:
    """One endpoint, or a selector: explicit ids, a site, tags (all of them)."""

    endpoint_id: str | None = None
    endpoint_ids: list[str] | None = None
    site: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def is_selector(self) -> bool:
        return self.endpoint_id is None


@dataclass(frozen=True)
class RunAsk:
    action: str
    params: dict[str, Any]
    dry_run: bool = False
    ticket_id: int | None = None
    timeout_s: int = 300
    expires_at: dt.datetime | None = None
    reason: str = ""


def _checked_params(ask: RunAsk, params_size: int) -> tuple[Risk, dict[str, Any]]:
    try:
        spec = get_action(ask.action)
        model = validate_params(ask.action, ask.params, size=params_size)
    except CatalogueError as exc:
        raise InvalidInput(exc.field, exc.reason) from None
    if ask.dry_run and not spec.dry_run:
        raise InvalidInput("dry_run", f"{ask.action} has no dry-run (it changes nothing anyway)")
    return spec.risk, model.model_dump(mode="json", exclude_unset=True)


async def _endpoint_ids(session: AsyncSession, actor: Actor, target: Target) -> list[str]:
    # Ids only: loading endpoints would also load their tags and site for nothing.
    query = scoped(select(Endpoint.id), actor).where(Endpoint.revoked_at.is_(None))
    if target.endpoint_id is not None:
        ids = [target.endpoint_id]
    elif target.endpoint_ids is not None:
        if not target.endpoint_ids:
            raise InvalidInput("endpoint_ids", "give at least one endpoint")
        ids = target.endpoint_ids
    else:
        ids = None
    if ids is not None:
        found = set(await session.scalars(query.where(Endpoint.id.in_(ids))))
        for index, endpoint_id in enumerate(ids):
            if endpoint_id not in found:
                where = "endpoint_id" if target.endpoint_id else f"endpoint_ids[{index}]"
                raise InvalidInput(where, f"no endpoint {endpoint_id} that you can reach")
        return list(dict.fromkeys(ids))
    if target.site is None and not target.tags:
        raise InvalidInput("endpoint_id", "give endpoint_id, endpoint_ids, site or tags")
    if target.site is not None:
        query = query.join(Site, Endpoint.site_id == Site.id).where(Site.name == target.site)
    for tag in target.tags:
        query = query.where(
            Endpoint.id.in_(select(EndpointTag.endpoint_id).where(EndpointTag.tag == tag))
        )
    endpoints = list(
        await session.scalars(query.order_by(Endpoint.hostname).limit(MAX_TARGETS + 1))
    )
    if not endpoints:
        raise InvalidInput(
            "site" if target.site is not None else "tags", "matches no endpoint you can reach"
        )
    if len(endpoints) > MAX_TARGETS:
        raise InvalidInput("tags", f"matches more than {MAX_TARGETS} endpoints; narrow it")
    return endpoints


def snapshot(run: Run) -> dict[str, Any]:
    return {
        "action": run.action,
        "params": run.params,
        "endpoint_id": run.endpoint_id,
        "dry_run": run.dry_run,
        "state": run.state,
        "approval": run.approval,
        "ticket_id": run.ticket_id,
        "batch_id": run.batch_id,
    }


async def create_runs(
    session: AsyncSession,
    actor: Actor,
    ask: RunAsk,
    target: Target,
    *,
    params_size: int = 0,
    before_commit: Callable[[list[Run]], None] | None = None,
    audit_context: dict[str, Any] | None = None,
) -> tuple[str | None, list[Run]]:
    """The runs asked for, one per endpoint; before_commit may still change them (the
    dispatcher marks those it can send at once, saving a transaction per request).
    audit_context joins each run's one `request` event (how a run was asked for, when not
    through POST /runs)."""
    actor.require(Permission.RUNS_CREATE)
    risk, params = _checked_params(ask, params_size)
    now = utcnow()
    expires_at = ask.expires_at or now + DEFAULT_LIFETIME
    if expires_at.tzinfo is None or expires_at <= now:
        raise InvalidInput("expires_at", "must be a future time with a time zone")
    if ask.ticket_id is not None:
        try:
            await get_visible(session, actor, ask.ticket_id)
        except NotFound:
            raise InvalidInput("ticket_id", f"no ticket {ask.ticket_id} that you can see") from None
    endpoint_ids = await _endpoint_ids(session, actor, target)
    approval = "none"
    if risk is Risk.HIGH and not ask.dry_run:
        approval = "approved" if actor.can(Permission.RUNS_APPROVE) else "pending"
    batch_id = str(uuid.uuid4()) if target.is_selector else None
    runs = [
        Run(
            id=str(uuid.uuid4()),
            batch_id=batch_id,
            endpoint_id=endpoint_id,
            action=ask.action,
            params=params,
            dry_run=ask.dry_run,
            risk=risk,
            state="queued",
            approval=approval,
            approved_by=actor.name if approval == "approved" else None,
            requested_by_user_id=actor.user_id,
            requested_by=actor.name,
            ticket_id=ask.ticket_id,
            reason=ask.reason,
            request_id=actor.request_id,
            timeout_s=ask.timeout_s,
            expires_at=expires_at,
            created_at=now,
        )
        for endpoint_id in endpoint_ids
    ]
    session.add_all(runs)
    for run in runs:
        after = snapshot(run) | (audit_context or {})
        audit.record(session, actor, "request", "run", run.id, after=after)
    if before_commit is not None:
        before_commit(runs)
    await session.commit()
    return batch_id, runs


def _visible(query: Select[Run], actor: Actor) -> Select[Run]:
    if actor.site_ids is None:
        return query
    reachable = select(Endpoint.id).where(Endpoint.site_id.in_(actor.site_ids))
    return query.where(Run.endpoint_id.in_(reachable))


async def get_run(session: AsyncSession, actor: Actor, run_id: str) -> Run:
    actor.require(Permission.RUNS_READ)
    run = await session.scalar(_visible(select(Run).where(Run.id == run_id), actor))
    if run is None:
        raise NotFound("run", run_id)
    return run


async def reload(session: AsyncSession, run_ids: list[str]) -> list[Run]:
    """Runs already shown to the caller, read again as they are now (one query)."""
    if not run_ids:
        return []
    query = select(Run).where(Run.id.in_(run_ids)).execution_options(populate_existing=True)
    return list(await session.scalars(query))


async def list_runs(
    session: AsyncSession,
    actor: Actor,
    *,
    batch: str | None = None,
    endpoint_id: str | None = None,
    state: str | None = None,
    ticket_id: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[Run]:
    actor.require(Permission.RUNS_READ)
    if state is not None and state not in STATES:
        raise InvalidInput("state", f"one of {', '.join(sorted(STATES))}")
    query = _visible(select(Run), actor)
    for column, value in (
        (Run.batch_id, batch),
        (Run.endpoint_id, endpoint_id),
        (Run.state, state),
        (Run.ticket_id, ticket_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return await keyset_page(
        session, query, (Run.created_at, Run.id), limit=limit, cursor=cursor, newest_first=True
    )


async def cancel_run(session: AsyncSession, actor: Actor, run_id: str) -> Run:
    """Queued runs end at once; sent or running ones end when the agent confirms."""
    actor.require(Permission.RUNS_CREATE)
    run = await get_run(session, actor, run_id)
    if run.state in TERMINAL:
        raise Conflict(f"run {run_id} already {run.state}")
    before = snapshot(run)
    if run.state == "queued":
        run.state, run.finished_at = "cancelled", utcnow()
    else:
        run.cancel_requested = True
    audit.record(session, actor, "cancel", "run", run.id, before=before, after=snapshot(run))
    await session.commit()
    return run


async def decide(session: AsyncSession, actor: Actor, run_id: str, *, approve: bool) -> Run:
    """Approve or deny a high-risk run that waits for a tier-2 or admin decision."""
    actor.require(Permission.RUNS_APPROVE)
    run = await get_run(session, actor, run_id)
    if run.approval != "pending":
        raise Conflict(f"run {run_id} is not waiting for approval ({run.approval})")
    before = snapshot(run)
    run.approval = "approved" if approve else "denied"
    run.approved_by = actor.name
    if not approve:
        run.state, run.finished_at = "cancelled", utcnow()
        run.result = {"error": {"code": "denied", "message": f"denied by {actor.name}"}}
    audit.record(
        session,
        actor,
        "approve" if approve else "deny",
        "run",
        run.id,
        before=before,
        after=snapshot(run),
    )
    await session.commit()
    return run
