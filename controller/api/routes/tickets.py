"""Tickets: open, follow, comment, move, assign, escalate; team queues."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, StringConstraints

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.api.fields import Email
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.api.routes.kb import ArticlePublic, ArticleSummary, Results
from controller.desk import queues, tickets, timeline, workflow
from controller.desk.queues import TicketFilter
from controller.desk.tickets import TicketDraft
from controller.storage.models import Ticket

router = APIRouter(prefix="/tickets", tags=["tickets"])
Asker = Annotated[Actor, Depends(allowed(Permission.TICKETS_OWN))]
Handler = Annotated[Actor, Depends(allowed(Permission.TICKETS_WRITE))]

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LongText = Annotated[str, StringConstraints(max_length=100_000)]
Level = Annotated[int, Field(ge=1, le=3, description="1 = high, 2 = medium, 3 = low")]
Channel = Literal["phone", "email", "walk_in", "portal", "monitoring", "api"]
Kind = Literal["incident", "service_request", "problem", "change"]
State = Literal["new", "assigned", "in_progress", "pending", "resolved", "closed"]


class TicketCreate(BaseModel):
    title: Title
    description: LongText = ""
    channel: Channel = "portal"
    type: Kind = "incident"
    impact: Level = 3
    urgency: Level = 3
    category_id: int | None = None
    site_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    requester_id: int | None = None
    requester_name: Annotated[str, StringConstraints(max_length=200)] = ""
    requester_email: Email = ""
    endpoint_ids: list[Annotated[str, StringConstraints(max_length=36)]] = Field(
        default_factory=list, max_length=100
    )
    watcher_ids: list[int] = Field(default_factory=list, max_length=100)
    parent_id: int | None = None


class TicketUpdate(PatchModel):
    nullable = frozenset({"category_id", "site_id", "follow_up_at", "parent_id", "duplicate_of_id"})

    title: Title | None = None
    description: LongText | None = None
    type: Kind | None = None
    impact: Level | None = None
    urgency: Level | None = None
    category_id: int | None = None
    site_id: int | None = None
    endpoint_ids: list[Annotated[str, StringConstraints(max_length=36)]] | None = Field(
        default=None, max_length=100
    )
    watcher_ids: list[int] | None = Field(default=None, max_length=100)
    follow_up_at: dt.datetime | None = None
    vendor_reference: Annotated[str, StringConstraints(max_length=200)] | None = None
    parent_id: int | None = None
    duplicate_of_id: int | None = None


class TicketPublic(BaseModel):
    id: int
    number: int = Field(description="the ticket's number, as in [#number] mail subjects")
    title: str
    description: str
    state: State
    pending_reason: str | None
    channel: str
    type: str
    impact: int
    urgency: int
    priority: int = Field(description="1 (critical) to 5 (planning), from impact x urgency")
    category_id: int | None
    site_id: int | None
    team_id: int | None
    assignee_id: int | None
    requester_id: int | None
    requester_name: str
    requester_email: str
    escalation_level: int
    vendor_reference: str
    resolution: str
    parent_id: int | None
    duplicate_of_id: int | None
    sla_state: str
    sla_policy_id: int | None
    own_due_at: dt.datetime | None
    resolve_due_at: dt.datetime | None
    sla_paused_at: dt.datetime | None
    owned_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    follow_up_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    endpoint_ids: list[str] = Field(default_factory=list)
    watcher_ids: list[int] = Field(default_factory=list)

    @classmethod
    def of(
        cls,
        ticket: Ticket,
        endpoint_ids: list[str] | None = None,
        watcher_ids: list[int] | None = None,
    ) -> TicketPublic:
        values = {name: getattr(ticket, name) for name in COLUMNS}
        return cls(
            **values,
            number=ticket.id,
            endpoint_ids=endpoint_ids or [],
            watcher_ids=watcher_ids or [],
        )


COLUMNS = [
    n for n in TicketPublic.model_fields if n not in ("number", "endpoint_ids", "watcher_ids")
]


async def _full(session: SessionDep, ticket: Ticket) -> TicketPublic:
    endpoint_ids, watcher_ids = await tickets.links(session, ticket.id)
    return TicketPublic.of(ticket, endpoint_ids, watcher_ids)


class CommentCreate(BaseModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    public: bool = Field(default=True, description="false: an internal note staff alone see")


class TransitionRequest(BaseModel):
    state: State
    reason: Literal["requester", "vendor", "change"] | None = Field(
        default=None, description="why it is pending (required for pending)"
    )
    resolution: LongText = Field(default="", description="what fixed it (required to resolve)")


class AssignRequest(BaseModel):
    team_id: int | None = None
    assignee_id: int | None = None
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class EscalateRequest(BaseModel):
    team_id: int | None = Field(default=None, description="the team to take over")
    kind: Literal["functional", "hierarchical"] | None = Field(
        default=None, description="default: functional with a team_id, else hierarchical"
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    vendor_reference: Annotated[str, StringConstraints(max_length=200)] = ""


class TimelineEntry(BaseModel):
    at: dt.datetime
    kind: str
    public: bool
    actor: str
    body: str
    data: dict[str, Any]
    event_id: int | None
    run_id: str | None


def queue_filter(
    state: Annotated[str | None, Query(description="a state, or open")] = None,
    mine: bool = False,
    team_id: int | None = None,
    unassigned: bool = False,
    breaching_within_s: Annotated[int | None, Query(ge=0, le=365 * 86400)] = None,
    priority: Annotated[int | None, Query(ge=1, le=5)] = None,
    requester_id: int | None = None,
    site_id: int | None = None,
    category_id: int | None = None,
    sla_state: str | None = None,
    endpoint_id: str | None = None,
) -> TicketFilter:
    return TicketFilter(
        state=state,
        mine=mine,
        team_id=team_id,
        unassigned=unassigned,
        breaching_within_s=breaching_within_s,
        priority=priority,
        requester_id=requester_id,
        site_id=site_id,
        category_id=category_id,
        sla_state=sla_state,
        endpoint_id=endpoint_id,
    )


Filter = Annotated[TicketFilter, Depends(queue_filter)]


@router.post("", status_code=201)
async def create(
    body: TicketCreate, session: SessionDep, controller: ControllerDep, actor: Asker
) -> TicketPublic:
    draft = TicketDraft(**body.model_dump())
    matrix = controller.settings.priority_matrix
    return await _full(session, await tickets.create_ticket(session, actor, draft, matrix=matrix))


@router.get("")
async def list_(
    session: SessionDep, actor: Asker, f: Filter, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[TicketPublic]:
    page = await queues.list_tickets(session, actor, f, limit=limit, cursor=cursor)
    return PageOf(items=[TicketPublic.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/{ticket_id}")
async def get(ticket_id: int, session: SessionDep, actor: Asker) -> TicketPublic:
    return await _full(session, await tickets.get_ticket(session, actor, ticket_id))


@router.patch("/{ticket_id}")
async def update(
    ticket_id: int,
    body: TicketUpdate,
    session: SessionDep,
    controller: ControllerDep,
    actor: Handler,
) -> TicketPublic:
    changes = body.model_dump(exclude_unset=True)
    matrix = controller.settings.priority_matrix
    ticket = await tickets.update_ticket(session, actor, ticket_id, changes, matrix=matrix)
    return await _full(session, ticket)


@router.post("/{ticket_id}/comments", status_code=201)
async def comment(
    ticket_id: int, body: CommentCreate, session: SessionDep, actor: Asker
) -> TicketPublic:
    ticket = await workflow.comment(session, actor, ticket_id, body.body, public=body.public)
    return await _full(session, ticket)


@router.post("/{ticket_id}/transition")
async def transition(
    ticket_id: int, body: TransitionRequest, session: SessionDep, actor: Asker
) -> TicketPublic:
    ticket = await workflow.transition(
        session, actor, ticket_id, body.state, reason=body.reason, resolution=body.resolution
    )
    return await _full(session, ticket)


@router.post("/{ticket_id}/assign")
async def assign(
    ticket_id: int, body: AssignRequest, session: SessionDep, actor: Handler
) -> TicketPublic:
    ticket = await workflow.assign(
        session,
        actor,
        ticket_id,
        team_id=body.team_id,
        assignee_id=body.assignee_id,
        reason=body.reason,
    )
    return await _full(session, ticket)


@router.post("/{ticket_id}/escalate")
async def escalate(
    ticket_id: int, body: EscalateRequest, session: SessionDep, actor: Handler
) -> TicketPublic:
    ticket = await workflow.escalate(
        session,
        actor,
        ticket_id,
        reason=body.reason,
        team_id=body.team_id,
        kind=body.kind,
        vendor_reference=body.vendor_reference,
    )
    return await _full(session, ticket)


@router.get("/{ticket_id}/timeline")
async def get_timeline(ticket_id: int, session: SessionDep, actor: Asker) -> list[TimelineEntry]:
    entries = await timeline.timeline(session, actor, ticket_id)
    return [TimelineEntry(**vars(entry)) for entry in entries]


@router.post("/{ticket_id}/kb-draft", status_code=201)
async def write_up(
    ticket_id: int,
    session: SessionDep,
    actor: Annotated[Actor, Depends(allowed(Permission.KB_WRITE))],
) -> ArticlePublic:
    """A draft knowledge-base article from this resolved ticket's problem and resolution."""
    return ArticlePublic.model_validate(await tickets.write_up(session, actor, ticket_id))


@router.get("/{ticket_id}/suggestions")
async def suggestions(
    ticket_id: int,
    session: SessionDep,
    actor: Annotated[Actor, Depends(allowed(Permission.KB_READ))],
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> Results:
    """Knowledge-base articles that may answer this ticket, best first."""
    found = await tickets.suggestions(session, actor, ticket_id, limit)
    return Results(items=[ArticleSummary.of(a) for a in found])


queue_router = APIRouter(prefix="/teams", tags=["tickets"])


@queue_router.get("/{team_id}/queue")
async def team_queue(
    team_id: int,
    session: SessionDep,
    actor: Annotated[Actor, Depends(allowed(Permission.TICKETS_READ))],
    unassigned: bool = False,
    breaching_within_s: Annotated[int | None, Query(ge=0, le=365 * 86400)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PageOf[TicketPublic]:
    """The team's open tickets, newest first; narrow to unassigned or soon breaching."""
    page = await queues.team_queue(
        session,
        actor,
        team_id,
        unassigned=unassigned,
        breaching_within_s=breaching_within_s,
        limit=limit,
        cursor=cursor,
    )
    return PageOf(items=[TicketPublic.of(t) for t in page.items], next_cursor=page.next_cursor)
