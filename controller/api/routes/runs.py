"""Runs: ask endpoints to run catalogue actions, follow them, cancel, approve."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.api.paging import Cursor, Limit, PageOf
from controller.runs import service
from controller.runs.output import Chunk
from controller.runs.service import TERMINAL, RunAsk, Target

router = APIRouter(prefix="/runs", tags=["runs"])
Reader = Annotated[Actor, Depends(allowed(Permission.RUNS_READ))]
Runner = Annotated[Actor, Depends(allowed(Permission.RUNS_CREATE))]
Approver = Annotated[Actor, Depends(allowed(Permission.RUNS_APPROVE))]


class RunCreate(BaseModel):
    action: str = Field(max_length=100, description="a catalogue action, e.g. service.restart")
    params: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    ticket_id: int | None = None
    timeout_s: int = Field(default=300, ge=1, le=86400)
    expires_at: dt.datetime | None = Field(
        default=None, description="not started by then: expired (default: 24 h)"
    )
    reason: str = Field(default="", max_length=500)
    endpoint_id: str | None = Field(default=None, max_length=36)
    endpoint_ids: list[str] | None = Field(default=None, max_length=10000)
    site: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=32)


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    batch_id: str | None
    endpoint_id: str
    action: str
    params: dict[str, Any]
    dry_run: bool
    risk: str
    state: str
    approval: str
    approved_by: str | None
    cancel_requested: bool
    requested_by: str
    ticket_id: int | None
    reason: str
    request_id: str
    timeout_s: int
    expires_at: dt.datetime | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: dict[str, Any] | None


class RunsCreated(BaseModel):
    batch_id: str | None = Field(
        description="set when a selector (endpoint_ids, site, tags) was used"
    )
    items: list[RunPublic]


@router.post("", status_code=201)
async def create(
    body: RunCreate,
    session: SessionDep,
    controller: ControllerDep,
    actor: Runner,
    wait_s: Annotated[
        float,
        Query(ge=0, le=300, description="answer once every run has ended, or after this long"),
    ] = 0,
) -> RunsCreated:
    ask = RunAsk(
        action=body.action,
        params=body.params,
        dry_run=body.dry_run,
        ticket_id=body.ticket_id,
        timeout_s=body.timeout_s,
        expires_at=body.expires_at,
        reason=body.reason,
    )
    target = Target(body.endpoint_id, body.endpoint_ids, body.site, body.tags)
    size = len(json.dumps(body.params))
    dispatcher = controller.dispatcher
    batch_id, runs = await service.create_runs(
        session, actor, ask, target, params_size=size, before_commit=dispatcher.mark_sendable
    )
    dispatcher.send(runs)
    items = [RunPublic.model_validate(r) for r in runs]
    if wait_s:
        ended = await dispatcher.wait_ended([r.id for r in runs], wait_s)
        unknown = [item.id for item in items if item.id not in ended]
        fresh = {
            run.id: RunPublic.model_validate(run) for run in await service.reload(session, unknown)
        }
        items = [
            item.model_copy(update=vars(ended[item.id])) if item.id in ended else fresh[item.id]
            for item in items
        ]
    return RunsCreated(batch_id=batch_id, items=items)


@router.get("")
async def list_(
    session: SessionDep,
    actor: Reader,
    batch: Annotated[str | None, Query(description="runs of one batch")] = None,
    endpoint_id: str | None = None,
    state: str | None = None,
    ticket_id: Annotated[int | None, Query(description="runs tied to one ticket")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PageOf[RunPublic]:
    page = await service.list_runs(
        session,
        actor,
        batch=batch,
        endpoint_id=endpoint_id,
        state=state,
        ticket_id=ticket_id,
        limit=limit,
        cursor=cursor,
    )
    return PageOf(
        items=[RunPublic.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/{run_id}")
async def get(run_id: str, session: SessionDep, actor: Reader) -> RunPublic:
    return RunPublic.model_validate(await service.get_run(session, actor, run_id))


POLL_S = 0.25
# Past the run's own timeout plus this, the stream ends even if the run has not.
STREAM_SLACK_S = 60


@router.get("/{run_id}/events", response_class=StreamingResponse)
async def events(
    run_id: str, session: SessionDep, controller: ControllerDep, actor: Reader
) -> StreamingResponse:
    """Server-sent events: the run each time it changes, ending with its final state, and
    its output while it runs (`output`: offset and text; buffered output comes first).

    The run is read from the database, so it works whichever controller process the agent
    is on; live output is seen only through the process the agent is connected to (the
    final result always has the output).
    """
    run = await service.get_run(session, actor, run_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + run.timeout_s + STREAM_SLACK_S
    hub = controller.run_output

    async def stream() -> AsyncIterator[str]:
        last, offset, poll_at = None, 0, 0.0
        with hub.subscribe(run_id) as more:
            while True:
                more.clear()
                current = None
                if loop.time() >= poll_at:
                    async with controller.sessions() as fresh:
                        current = RunPublic.model_validate(
                            await service.get_run(fresh, actor, run_id)
                        )
                    poll_at = loop.time() + POLL_S
                # Output after the poll: what the agent sent before its final update comes
                # before the final state.
                for chunk in hub.since(run_id, offset):
                    yield _output_event(chunk)
                    offset = chunk.offset + chunk.size
                if current is not None:
                    payload = current.model_dump_json()
                    if payload != last:
                        yield f"event: run\ndata: {payload}\n\n"
                        last = payload
                    if current.state in TERMINAL or loop.time() > deadline:
                        yield "event: end\ndata: {}\n\n"
                        return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(more.wait(), max(poll_at - loop.time(), 0))

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _output_event(chunk: Chunk) -> str:
    data = json.dumps({"offset": chunk.offset, "text": chunk.text})
    return f"event: output\ndata: {data}\n\n"


@router.post("/{run_id}/cancel")
async def cancel(
    run_id: str, session: SessionDep, controller: ControllerDep, actor: Runner
) -> RunPublic:
    run = await service.cancel_run(session, actor, run_id)
    controller.dispatcher.cancel(run)
    return RunPublic.model_validate(run)


@router.post("/{run_id}/approve")
async def approve(
    run_id: str, session: SessionDep, controller: ControllerDep, actor: Approver
) -> RunPublic:
    run = await service.decide(session, actor, run_id, approve=True)
    await controller.dispatcher.dispatch([run.id])
    await session.refresh(run)
    return RunPublic.model_validate(run)


@router.post("/{run_id}/deny")
async def deny(run_id: str, session: SessionDep, actor: Approver) -> RunPublic:
    return RunPublic.model_validate(await service.decide(session, actor, run_id, approve=False))
