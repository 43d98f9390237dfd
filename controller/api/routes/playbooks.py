"""Playbooks: the library, and playbook runs on an endpoint, a selector or for a ticket."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.api.paging import Cursor, Limit, PageOf
from controller.container import Controller
from controller.errors import NotFound
from controller.playbooks import service
from controller.playbooks.engine import Engine
from controller.playbooks.loader import Loaded
from controller.runs.service import Target

router = APIRouter(tags=["playbooks"])
Reader = Annotated[Actor, Depends(allowed(Permission.RUNS_READ))]
Runner = Annotated[Actor, Depends(allowed(Permission.RUNS_CREATE))]


def _engine(controller: Controller) -> Engine:
    if controller.playbooks is None:
        raise NotFound("playbook library", "")
    return controller.playbooks


class StepPublic(BaseModel):
    id: str
    kind: str
    action: str | None
    risk: str
    when: str | None
    description: str


class PlaybookPublic(BaseModel):
    name: str
    description: str
    path: str
    digest: str
    inputs: dict[str, dict[str, Any]]
    steps: list[StepPublic]
    rollback: list[StepPublic]
    escalate: dict[str, str] | None


def _public(loaded: Loaded) -> PlaybookPublic:
    book = loaded.playbook

    def steps(items: Any) -> list[StepPublic]:
        return [
            StepPublic(
                id=s.id,
                kind=s.kind,
                action=s.action,
                risk=str(s.risk),
                when=s.when,
                description=s.description,
            )
            for s in items
        ]

    return PlaybookPublic(
        name=book.name,
        description=book.description,
        path=loaded.path,
        digest=loaded.digest,
        inputs={name: spec.model_dump() for name, spec in book.inputs.items()},
        steps=steps(book.steps),
        rollback=steps(book.rollback),
        escalate=book.escalate.model_dump() if book.escalate else None,
    )


@router.get("/playbooks")
async def library(controller: ControllerDep, actor: Reader) -> list[PlaybookPublic]:
    return [_public(item) for item in _engine(controller).library]


@router.get("/playbooks/{name}")
async def playbook(name: str, controller: ControllerDep, actor: Reader) -> PlaybookPublic:
    loaded = _engine(controller).library.get(name)
    if loaded is None:
        raise NotFound("playbook", name)
    return _public(loaded)


class PlaybookRunCreate(BaseModel):
    playbook: str = Field(max_length=100)
    inputs: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    ticket_id: int | None = None
    endpoint_id: str | None = Field(default=None, max_length=36)
    endpoint_ids: list[str] | None = Field(default=None, max_length=10000)
    site: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=32)


class PlaybookRunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    batch_id: str | None
    playbook: str
    playbook_digest: str
    endpoint_id: str
    ticket_id: int | None
    inputs: dict[str, Any]
    dry_run: bool
    state: str
    steps: list[dict[str, Any]]
    summary: str
    requested_by: str
    correlation_id: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class PlaybookRunsCreated(BaseModel):
    batch_id: str | None = Field(
        description="set when a selector (endpoint_ids, site, tags) was used"
    )
    items: list[PlaybookRunPublic]


@router.post("/playbook-runs", status_code=201)
async def create(
    body: PlaybookRunCreate,
    session: SessionDep,
    controller: ControllerDep,
    actor: Runner,
    wait_s: Annotated[
        float,
        Query(ge=0, le=600, description="answer once every playbook run has ended, or after"),
    ] = 0,
) -> PlaybookRunsCreated:
    engine = _engine(controller)
    target = Target(body.endpoint_id, body.endpoint_ids, body.site, body.tags)
    batch_id, runs = await service.start_playbook_runs(
        session,
        actor,
        engine.library,
        body.playbook,
        body.inputs,
        target,
        ticket_id=body.ticket_id,
        dry_run=body.dry_run,
    )
    ids = [run.id for run in runs]
    engine.start(ids, actor)
    if wait_s:
        await engine.wait(ids, wait_s)
    async with controller.sessions() as fresh:
        items = [await service.get_playbook_run(fresh, actor, run_id) for run_id in ids]
        return PlaybookRunsCreated(
            batch_id=batch_id, items=[PlaybookRunPublic.model_validate(r) for r in items]
        )


@router.get("/playbook-runs")
async def list_(
    session: SessionDep,
    actor: Reader,
    batch: Annotated[str | None, Query(description="playbook runs of one batch")] = None,
    endpoint_id: str | None = None,
    ticket_id: int | None = None,
    state: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PageOf[PlaybookRunPublic]:
    page = await service.list_playbook_runs(
        session,
        actor,
        batch=batch,
        endpoint_id=endpoint_id,
        ticket_id=ticket_id,
        state=state,
        limit=limit,
        cursor=cursor,
    )
    return PageOf(
        items=[PlaybookRunPublic.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/playbook-runs/{run_id}")
async def get(run_id: str, session: SessionDep, actor: Reader) -> PlaybookRunPublic:
    return PlaybookRunPublic.model_validate(await service.get_playbook_run(session, actor, run_id))


@router.post("/playbook-runs/{run_id}/cancel")
async def cancel(
    run_id: str, session: SessionDep, controller: ControllerDep, actor: Runner
) -> PlaybookRunPublic:
    run = await service.cancel_playbook_run(session, actor, run_id)
    _engine(controller).cancel(run_id)
    return PlaybookRunPublic.model_validate(run)
