"""Self-service fixes: a few pre-approved, safe runs a requester starts on their own machine.

Requesters do not hold runs:create. This module is the one narrow way a requester's request
becomes a run, and it grants nothing more than that:
- the fix comes from FIXES: its action and parameters are fixed here, the requester supplies
  none (only which fix, and which machine they believe they are at);
- the machine must be the one detected for this very request (controller.fleet.this_machine:
  the request's address is reported by exactly one enrolled endpoint), and the requester
  must confirm it is theirs;
- every fix is recorded on a ticket of theirs (an open one for that machine, or a new portal
  ticket), linked to the run, written to the audit trail with the address it came from, and
  noted in self_service_runs so the requester can follow it without runs:read.
The run is created by the same service as any other (controller.runs.service.create_runs),
by the requester (requested_by), with runs:create lent for that one call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk import tickets, timeline
from controller.desk.lifecycle import OPEN_STATES
from controller.desk.priority import DEFAULT_MATRIX
from controller.desk.tickets import TicketDraft
from controller.desk.visibility import get_visible
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.fleet.this_machine import machine_at
from controller.runs.service import TERMINAL, RunAsk, Target, create_runs
from controller.storage.models import Endpoint, Run, SelfServiceRun, Ticket, ticket_endpoints

WEEK_S = 7 * 86400
POSIX_TEMP_DIRS = ["/tmp", "/var/tmp"]  # noqa: S108 - the directories cleaned, not files made
FIX_TIMEOUT_S = 600


@dataclass(frozen=True)
class Step:
    """What a fix runs on one kind of machine: a catalogue action with fixed parameters."""

    action: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Fix:
    id: str
    title: str
    description: str
    posix: Step  # Linux and macOS
    windows: Step

    def step_for(self, os_family: str) -> Step:
        return self.windows if os_family == "windows" else self.posix


# Only low- and medium-risk actions that cannot lose work a person still needs: nothing here
# waits for approval, and the parameters never come from the requester.
FIXES: dict[str, Fix] = {
    fix.id: fix
    for fix in (
        Fix(
            id="clear-temp",
            title="Clear my temporary files",
            description="Deletes temporary files nobody has changed for a week, to free "
            "disk space. Files in use or newer than a week stay.",
            posix=Step("disk.cleanup", {"paths": POSIX_TEMP_DIRS, "older_than_s": WEEK_S}),
            windows=Step("disk.cleanup", {"paths": ["C:\\Windows\\Temp"], "older_than_s": WEEK_S}),
        ),
        Fix(
            id="restart-print-queue",
            title="Restart my print queue",
            description="Cancels print jobs stuck in this computer's queues (or restarts the "
            "print spooler on Windows). Print again afterwards.",
            posix=Step("print.clear_queue", {}),
            windows=Step("service.restart", {"name": "Spooler"}),
        ),
    )
}


@dataclass(frozen=True)
class FixStarted:
    fix: Fix
    run: Run
    ticket: Ticket
    endpoint: Endpoint


def get_fix(fix_id: str) -> Fix:
    fix = FIXES.get(fix_id)
    if fix is None:
        raise NotFound("self-service fix", fix_id)
    return fix


def _person(actor: Actor) -> int:
    """Self-service is for a signed-in person with tickets of their own."""
    actor.require(Permission.TICKETS_OWN)
    if actor.user_id is None:
        raise Forbidden("self-service is for a person's own account")
    return actor.user_id


async def this_machine(
    session: AsyncSession, actor: Actor, client_address: str | None
) -> Endpoint | None:
    """The caller's machine, as detected for this request (only signed-in people ask)."""
    _person(actor)
    return await machine_at(session, client_address)


async def _own_machine(
    session: AsyncSession, actor: Actor, endpoint_id: str, client_address: str | None
) -> Endpoint:
    machine = await this_machine(session, actor, client_address)
    if machine is None or machine.id != endpoint_id:
        raise Forbidden(
            f"endpoint {endpoint_id} is not the computer this request comes from: "
            "self-service works only on the computer you are using"
        )
    return machine


async def _refuse_if_under_way(session: AsyncSession, fix: Fix, machine: Endpoint) -> None:
    """One at a time: a second tap while the first is queued or running adds nothing."""
    under_way = await session.scalar(
        select(Run.id)
        .join(SelfServiceRun, SelfServiceRun.run_id == Run.id)
        .where(
            SelfServiceRun.fix_id == fix.id,
            SelfServiceRun.endpoint_id == machine.id,
            Run.state.not_in(TERMINAL),
        )
        .limit(1)
    )
    if under_way is not None:
        raise Conflict(f"{fix.title} is already under way on {machine.hostname}; wait for it")


def _lend_run_creation(actor: Actor) -> Actor:
    """The requester, holding runs:create for one create_runs call made by this module."""
    delegate = dataclasses.replace(actor)
    object.__setattr__(delegate, "permissions", actor.permissions | {Permission.RUNS_CREATE})
    return delegate


async def _link(session: AsyncSession, actor: Actor, ticket: Ticket, machine: Endpoint) -> bool:
    """Link the machine to the ticket (in the caller's transaction); False if it was."""
    linked = await session.scalar(
        select(ticket_endpoints.c.endpoint_id).where(
            ticket_endpoints.c.ticket_id == ticket.id,
            ticket_endpoints.c.endpoint_id == machine.id,
        )
    )
    if linked is not None:
        return False
    await session.execute(
        insert(ticket_endpoints).values(ticket_id=ticket.id, endpoint_id=machine.id)
    )
    timeline.record(
        session,
        ticket,
        "link",
        actor.name,
        body=f"This computer: {machine.hostname}",
        public=True,
        data={"endpoint_id": machine.id, "how": "detected by the portal"},
    )
    return True


async def _open_own_ticket(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    try:
        ticket = await get_visible(session, actor, ticket_id)
    except NotFound:
        raise InvalidInput("ticket_id", f"no ticket {ticket_id} of yours") from None
    if ticket.requester_id != actor.user_id:
        raise InvalidInput("ticket_id", f"ticket {ticket_id} is not one you asked for")
    if ticket.state not in OPEN_STATES:
        raise InvalidInput("ticket_id", f"ticket {ticket_id} is {ticket.state}, not open")
    return ticket


async def link_this_machine(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    endpoint_id: str,
    client_address: str | None,
) -> Ticket:
    """Say which machine one's own open ticket is about: the one detected for this request."""
    _person(actor)
    machine = await _own_machine(session, actor, endpoint_id, client_address)
    ticket = await _open_own_ticket(session, actor, ticket_id)
    if await _link(session, actor, ticket, machine):
        audit.record(
            session,
            actor,
            "link_this_machine",
            "ticket",
            ticket.id,
            after={"endpoint_id": machine.id, "client_address": client_address},
        )
        await session.commit()
    return ticket


async def _ticket_for(
    session: AsyncSession,
    actor: Actor,
    fix: Fix,
    machine: Endpoint,
    ticket_id: int | None,
    matrix: Sequence[Sequence[int]],
) -> Ticket:
    """The given open ticket of theirs, else their newest open one about this machine,
    else a new portal ticket (flushed, not committed: the run commits with it)."""
    if ticket_id is not None:
        return await _open_own_ticket(session, actor, ticket_id)
    reuse = await session.scalar(
        select(Ticket)
        .join(ticket_endpoints, ticket_endpoints.c.ticket_id == Ticket.id)
        .where(
            Ticket.requester_id == actor.user_id,
            Ticket.state.in_(OPEN_STATES),
            ticket_endpoints.c.endpoint_id == machine.id,
        )
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    if reuse is not None:
        return reuse
    draft = TicketDraft(
        title=f"{fix.title} on {machine.hostname}",
        description=f"Self-service fix asked from the portal: {fix.description}",
        channel="portal",
    )
    return await tickets.create_ticket(session, actor, draft, matrix=matrix, commit=False)


async def run_fix(
    session: AsyncSession,
    actor: Actor,
    fix_id: str,
    *,
    endpoint_id: str,
    client_address: str | None,
    confirmed: bool,
    ticket_id: int | None = None,
    matrix: Sequence[Sequence[int]] = DEFAULT_MATRIX,
    before_commit: Callable[[list[Run]], None] | None = None,
) -> FixStarted:
    """Start an allow-listed fix on the caller's own machine, recorded on a ticket of theirs.

    Every check comes before anything is written: a refusal leaves no ticket and no run.
    """
    user_id = _person(actor)
    fix = get_fix(fix_id)
    if not confirmed:
        raise InvalidInput("confirm", "confirm that this is your computer and the fix may run")
    machine = await _own_machine(session, actor, endpoint_id, client_address)
    await _refuse_if_under_way(session, fix, machine)
    step = fix.step_for(machine.os_family)
    ticket = await _ticket_for(session, actor, fix, machine, ticket_id, matrix)
    await _link(session, actor, ticket, machine)

    def record(runs: list[Run]) -> None:
        (run,) = runs
        session.add(
            SelfServiceRun(
                run_id=run.id,
                fix_id=fix.id,
                user_id=user_id,
                endpoint_id=machine.id,
                ticket_id=ticket.id,
                client_address=client_address or "",
            )
        )
        timeline.record(
            session,
            ticket,
            "self_service",
            actor.name,
            body=f"{fix.title} on {machine.hostname}",
            public=True,
            data={"fix": fix.id, "run_id": run.id, "endpoint_id": machine.id},
        )
        if before_commit is not None:
            before_commit(runs)

    ask = RunAsk(
        action=step.action,
        params=step.params,
        ticket_id=ticket.id,
        timeout_s=FIX_TIMEOUT_S,
        reason=f"self-service: {fix.title} (asked by {actor.name} from the portal)",
    )
    _, runs = await create_runs(
        session,
        _lend_run_creation(actor),
        ask,
        Target(endpoint_id=machine.id),
        before_commit=record,
        audit_context={
            "self_service": {"fix": fix.id, "client_address": client_address, "confirmed": True}
        },
    )
    return FixStarted(fix=fix, run=runs[0], ticket=ticket, endpoint=machine)


async def fix_runs(
    session: AsyncSession,
    actor: Actor,
    *,
    ticket_id: int | None = None,
    run_id: str | None = None,
    limit: int = 50,
) -> list[tuple[SelfServiceRun, Run]]:
    """The caller's own self-service runs, newest first (a requester has no runs:read)."""
    user_id = _person(actor)
    query = (
        select(SelfServiceRun, Run)
        .join(Run, Run.id == SelfServiceRun.run_id)
        .where(SelfServiceRun.user_id == user_id)
    )
    if ticket_id is not None:
        query = query.where(SelfServiceRun.ticket_id == ticket_id)
    if run_id is not None:
        query = query.where(SelfServiceRun.run_id == run_id)
    query = query.order_by(SelfServiceRun.created_at.desc()).limit(limit)
    return [(row[0], row[1]) for row in await session.execute(query)]


async def fix_run(session: AsyncSession, actor: Actor, run_id: str) -> tuple[SelfServiceRun, Run]:
    found = await fix_runs(session, actor, run_id=run_id, limit=1)
    if not found:
        raise NotFound("self-service run", run_id)
    return found[0]
