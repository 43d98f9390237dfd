"""Self-service for requesters: which computer they are at, and safe fixes to run on it.

The address a request comes from decides which computer is "this" one (see
controller/fleet/this_machine.py); only its id and hostname are ever answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.api.routes.tickets import TicketPublic
from controller.desk.tickets import links
from controller.runs import self_service
from controller.runs.self_service import Fix
from controller.storage.models import Endpoint, Run, SelfServiceRun

router = APIRouter(prefix="/self-service", tags=["self-service"])
Person = Annotated[Actor, Depends(allowed(Permission.TICKETS_OWN))]
EndpointId = Annotated[str, Field(max_length=36)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


Address = Annotated[str | None, Depends(client_address)]


class MachinePublic(BaseModel):
    id: str
    hostname: str

    @classmethod
    def of(cls, endpoint: Endpoint) -> MachinePublic:
        return cls(id=endpoint.id, hostname=endpoint.hostname)


class ThisMachine(BaseModel):
    machine: MachinePublic | None = Field(
        description="the enrolled computer this request comes from; null when none or unsure"
    )


class FixPublic(BaseModel):
    id: str
    title: str
    description: str

    @classmethod
    def of(cls, fix: Fix) -> FixPublic:
        return cls(id=fix.id, title=fix.title, description=fix.description)


class FixRequest(BaseModel):
    endpoint_id: EndpointId = Field(description="this computer's id (GET /this-machine)")
    confirm: bool = Field(description="true: the requester confirmed it is their computer")
    ticket_id: int | None = Field(
        default=None, description="an open ticket of theirs; default: one for this computer"
    )


class FixRunPublic(BaseModel):
    run_id: str
    fix: FixPublic
    endpoint_id: str
    ticket_id: int | None
    state: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    changed: bool | None
    error: str | None = Field(description="why it failed, when it did")

    @classmethod
    def of(cls, record: SelfServiceRun, run: Run) -> FixRunPublic:
        result: dict[str, Any] = run.result or {}
        error = result.get("error") or {}
        fix = self_service.FIXES.get(record.fix_id)  # None: since taken off the allow-list
        return cls(
            run_id=run.id,
            fix=FixPublic.of(fix)
            if fix
            else FixPublic(id=record.fix_id, title=record.fix_id, description=""),
            endpoint_id=run.endpoint_id,
            ticket_id=record.ticket_id,
            state=run.state,
            created_at=run.created_at,
            finished_at=run.finished_at,
            changed=result.get("changed"),
            error=error.get("message") if isinstance(error, dict) else None,
        )


class FixStartedPublic(BaseModel):
    run: FixRunPublic
    ticket: TicketPublic


class LinkRequest(BaseModel):
    endpoint_id: EndpointId = Field(description="this computer's id (GET /this-machine)")


@router.get("/this-machine")
async def this_machine(session: SessionDep, actor: Person, address: Address) -> ThisMachine:
    """The computer this request comes from, when exactly one enrolled endpoint reports its
    address; only its id and hostname."""
    machine = await self_service.this_machine(session, actor, address)
    return ThisMachine(machine=MachinePublic.of(machine) if machine else None)


@router.get("/fixes")
async def fixes(actor: Person) -> list[FixPublic]:
    """The safe fixes a requester may run on their own computer."""
    return [FixPublic.of(fix) for fix in self_service.FIXES.values()]


@router.post("/fixes/{fix_id}", status_code=201)
async def run_fix(
    fix_id: str,
    body: FixRequest,
    session: SessionDep,
    controller: ControllerDep,
    actor: Person,
    address: Address,
) -> FixStartedPublic:
    """Run the fix on this computer (403 for any other), recorded on a ticket of theirs."""
    dispatcher = controller.dispatcher
    started = await self_service.run_fix(
        session,
        actor,
        fix_id,
        endpoint_id=body.endpoint_id,
        client_address=address,
        confirmed=body.confirm,
        ticket_id=body.ticket_id,
        matrix=controller.settings.priority_matrix,
        before_commit=dispatcher.mark_sendable,
    )
    dispatcher.send([started.run])
    record, run = await self_service.fix_run(session, actor, started.run.id)
    endpoint_ids, watcher_ids = await links(session, started.ticket.id)
    return FixStartedPublic(
        run=FixRunPublic.of(record, run),
        ticket=TicketPublic.of(started.ticket, endpoint_ids, watcher_ids),
    )


@router.get("/runs")
async def fix_runs(
    session: SessionDep, actor: Person, ticket_id: int | None = None
) -> list[FixRunPublic]:
    """The caller's own self-service runs, newest first; narrow to one ticket."""
    found = await self_service.fix_runs(session, actor, ticket_id=ticket_id)
    return [FixRunPublic.of(record, run) for record, run in found]


@router.get("/runs/{run_id}")
async def fix_run(run_id: str, session: SessionDep, actor: Person) -> FixRunPublic:
    return FixRunPublic.of(*await self_service.fix_run(session, actor, run_id))


@router.post("/tickets/{ticket_id}/this-machine")
async def link_this_machine(
    ticket_id: int, body: LinkRequest, session: SessionDep, actor: Person, address: Address
) -> TicketPublic:
    """Say one's own open ticket is about this computer (403 for any other)."""
    ticket = await self_service.link_this_machine(
        session, actor, ticket_id, body.endpoint_id, address
    )
    endpoint_ids, watcher_ids = await links(session, ticket.id)
    return TicketPublic.of(ticket, endpoint_ids, watcher_ids)
