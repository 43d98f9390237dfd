"""Opening, reading, listing and editing tickets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk import kb, notify, routing, sla, timeline
from controller.desk.priority import DEFAULT_MATRIX, priority
from controller.desk.visibility import get_visible, is_staff
from controller.errors import InvalidInput, NotFound
from controller.fleet.endpoints import scoped
from controller.storage.models import (
    Category,
    Endpoint,
    KbArticle,
    Site,
    Team,
    Ticket,
    User,
    ticket_endpoints,
    ticket_watchers,
)
from controller.storage.types import utcnow

CHANNELS = ("phone", "email", "walk_in", "portal", "monitoring", "api")
TYPES = ("incident", "service_request", "problem", "change")
Matrix = Sequence[Sequence[int]]


@dataclass(frozen=True)
class TicketDraft:
    title: str
    description: str = ""
    channel: str = "portal"
    type: str = "incident"
    impact: int = 3
    urgency: int = 3
    category_id: int | None = None
    site_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    requester_id: int | None = None
    requester_name: str = ""
    requester_email: str = ""
    endpoint_ids: list[str] = field(default_factory=list)
    watcher_ids: list[int] = field(default_factory=list)
    parent_id: int | None = None


# What a requester may say when opening a ticket; the rest is the desk's triage.
_REQUESTER_FIELDS = frozenset({"title", "description", "urgency", "category_id", "channel"})


def snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "title": ticket.title,
        "state": ticket.state,
        "priority": ticket.priority,
        "impact": ticket.impact,
        "urgency": ticket.urgency,
        "team_id": ticket.team_id,
        "assignee_id": ticket.assignee_id,
        "category_id": ticket.category_id,
        "site_id": ticket.site_id,
        "type": ticket.type,
        "escalation_level": ticket.escalation_level,
    }


async def check_refs(session: AsyncSession, actor: Actor, values: dict[str, Any]) -> None:
    """Every id named in values exists and is within the actor's reach."""
    checks: list[tuple[str, type[Any], str]] = [
        ("category_id", Category, "category"),
        ("team_id", Team, "team"),
        ("requester_id", User, "user"),
    ]
    for name, model, noun in checks:
        key = values.get(name)
        if key is not None and await session.get(model, key) is None:
            raise InvalidInput(name, f"no {noun} {key}")
    assignee_id = values.get("assignee_id")
    if assignee_id is not None and await routing.active_user(session, assignee_id) is None:
        raise InvalidInput("assignee_id", f"no active user {assignee_id}")
    site_id = values.get("site_id")
    if site_id is not None and (
        await session.get(Site, site_id) is None or not actor.sees_site(site_id)
    ):
        raise InvalidInput("site_id", f"no site {site_id} that you can reach")
    for index, watcher in enumerate(values.get("watcher_ids") or ()):
        if await session.get(User, watcher) is None:
            raise InvalidInput(f"watcher_ids[{index}]", f"no user {watcher}")
    endpoint_ids = values.get("endpoint_ids") or []
    if endpoint_ids:
        found = set(
            await session.scalars(
                scoped(select(Endpoint.id), actor).where(Endpoint.id.in_(endpoint_ids))
            )
        )
        for index, endpoint_id in enumerate(endpoint_ids):
            if endpoint_id not in found:
                raise InvalidInput(
                    f"endpoint_ids[{index}]", f"no endpoint {endpoint_id} you can reach"
                )
    for name in ("parent_id", "duplicate_of_id"):
        if values.get(name) is not None:
            try:
                await get_visible(session, actor, values[name])
            except NotFound:
                raise InvalidInput(name, f"no ticket {values[name]} that you can see") from None


def _checked_draft(actor: Actor, draft: TicketDraft) -> TicketDraft:
    if not draft.title.strip():
        raise InvalidInput("title", "must not be blank")
    if draft.channel not in CHANNELS:
        raise InvalidInput("channel", f"one of {', '.join(CHANNELS)}")
    if draft.type not in TYPES:
        raise InvalidInput("type", f"one of {', '.join(TYPES)}")
    if is_staff(actor):
        if not actor.can(Permission.TICKETS_WRITE) and actor.user_id is not None:
            # Read-only staff (auditors) open tickets as requesters do.
            return _checked_draft_as_requester(actor, draft)
        return draft
    actor.require(Permission.TICKETS_OWN)
    return _checked_draft_as_requester(actor, draft)


def _checked_draft_as_requester(actor: Actor, draft: TicketDraft) -> TicketDraft:
    defaults = TicketDraft(title="")
    for f in fields(TicketDraft):
        if f.name not in _REQUESTER_FIELDS and getattr(draft, f.name) != getattr(defaults, f.name):
            raise InvalidInput(f.name, "set by the service desk, not by the requester")
    return TicketDraft(
        title=draft.title,
        description=draft.description,
        channel=draft.channel,
        urgency=draft.urgency,
        category_id=draft.category_id,
        requester_id=actor.user_id,
    )


async def create_ticket(
    session: AsyncSession,
    actor: Actor,
    draft: TicketDraft,
    *,
    matrix: Matrix = DEFAULT_MATRIX,
    commit: bool = True,
) -> Ticket:
    """Open a ticket; commit=False leaves it flushed in the caller's transaction (mail
    intake applies a message whole or not at all)."""
    draft = _checked_draft(actor, draft)
    values = {f.name: getattr(draft, f.name) for f in fields(TicketDraft)}
    await check_refs(session, actor, values)
    if draft.requester_id is None and not (draft.requester_name or draft.requester_email):
        if actor.user_id is None:
            raise InvalidInput("requester_id", "say who asked: requester_id or requester_email")
        values["requester_id"] = actor.user_id
    now = utcnow()
    ticket = Ticket(
        title=draft.title.strip(),
        description=draft.description,
        channel=draft.channel,
        type=draft.type,
        impact=draft.impact,
        urgency=draft.urgency,
        priority=priority(draft.impact, draft.urgency, matrix),
        category_id=draft.category_id,
        site_id=draft.site_id,
        team_id=draft.team_id,
        assignee_id=draft.assignee_id,
        requester_id=values["requester_id"],
        requester_name=draft.requester_name,
        requester_email=draft.requester_email,
        parent_id=draft.parent_id,
        state="new",
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    if ticket.team_id is None:
        ticket.team_id = await routing.route(session, ticket)
    if ticket.team_id is not None and ticket.assignee_id is None:
        team = await session.get(Team, ticket.team_id)
        assert team is not None
        ticket.assignee_id = await routing.pick_assignee(session, team)
    if ticket.assignee_id is not None:
        ticket.state = "assigned"
    await session.flush()
    await _replace_links(session, ticket.id, draft.endpoint_ids, draft.watcher_ids)
    await sla.start(session, ticket, now)
    timeline.record(
        session,
        ticket,
        "created",
        actor.name,
        body=ticket.description,
        public=True,
        data={"channel": ticket.channel, "priority": ticket.priority},
    )
    if ticket.assignee_id is not None or ticket.team_id is not None:
        timeline.record(
            session,
            ticket,
            "assignment",
            actor.name,
            data={"team_id": ticket.team_id, "assignee_id": ticket.assignee_id, "how": "routing"},
        )
    audit.record(session, actor, "create", "ticket", ticket.id, after=snapshot(ticket))
    await notify.ticket_event(
        session,
        ticket,
        "ticket.created",
        f"Ticket opened: {ticket.title}",
        public=True,
        correlation_id=actor.request_id,
    )
    if ticket.assignee_id is not None:
        await notify.ticket_event(
            session,
            ticket,
            "ticket.assigned",
            "The ticket was assigned to you.",
            public=False,
            correlation_id=actor.request_id,
        )
    await (session.commit() if commit else session.flush())
    return ticket


async def _replace_links(
    session: AsyncSession,
    ticket_id: int,
    endpoint_ids: list[str] | None,
    watcher_ids: list[int] | None,
) -> None:
    for table, column, ids in (
        (ticket_endpoints, "endpoint_id", endpoint_ids),
        (ticket_watchers, "user_id", watcher_ids),
    ):
        if ids is None:
            continue
        await session.execute(delete(table).where(table.c.ticket_id == ticket_id))
        unique = list(dict.fromkeys(ids))
        if unique:
            await session.execute(
                insert(table), [{"ticket_id": ticket_id, column: key} for key in unique]
            )


async def links(session: AsyncSession, ticket_id: int) -> tuple[list[str], list[int]]:
    endpoints = await session.scalars(
        select(ticket_endpoints.c.endpoint_id).where(ticket_endpoints.c.ticket_id == ticket_id)
    )
    watchers = await session.scalars(
        select(ticket_watchers.c.user_id).where(ticket_watchers.c.ticket_id == ticket_id)
    )
    return sorted(endpoints), sorted(watchers)


async def get_ticket(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    return await get_visible(session, actor, ticket_id)


async def write_up(session: AsyncSession, actor: Actor, ticket_id: int) -> KbArticle:
    """A draft knowledge-base article from a resolved ticket, linked both ways."""
    ticket = await get_visible(session, actor, ticket_id)
    article = await kb.draft_from_ticket(session, actor, ticket)
    timeline.record(
        session,
        ticket,
        "link",
        actor.name,
        body=f"draft article #{article.id} written up from this ticket",
        data={"article_id": article.id},
    )
    await session.commit()
    return article


async def suggestions(
    session: AsyncSession, actor: Actor, ticket_id: int, limit: int = 5
) -> list[KbArticle]:
    """Articles that may answer the ticket, from its title and description."""
    ticket = await get_visible(session, actor, ticket_id)
    return await kb.suggest(session, actor, f"{ticket.title}\n{ticket.description}", limit=limit)


EDITABLE = frozenset(
    {
        "title",
        "description",
        "category_id",
        "type",
        "impact",
        "urgency",
        "site_id",
        "endpoint_ids",
        "watcher_ids",
        "follow_up_at",
        "vendor_reference",
        "parent_id",
        "duplicate_of_id",
    }
)


async def update_ticket(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    changes: dict[str, Any],
    *,
    matrix: Matrix = DEFAULT_MATRIX,
) -> Ticket:
    """Apply the given fields (a PATCH); priority and SLA follow impact and urgency."""
    actor.require(Permission.TICKETS_WRITE)
    ticket = await get_visible(session, actor, ticket_id)
    unknown = set(changes) - EDITABLE
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed here")
    if "type" in changes and changes["type"] not in TYPES:
        raise InvalidInput("type", f"one of {', '.join(TYPES)}")
    if "title" in changes and not str(changes["title"]).strip():
        raise InvalidInput("title", "must not be blank")
    if changes.get("parent_id") == ticket.id or changes.get("duplicate_of_id") == ticket.id:
        raise InvalidInput("parent_id", "a ticket cannot link to itself")
    await check_refs(session, actor, changes)
    before = snapshot(ticket)
    now = utcnow()
    for name, value in changes.items():
        if name not in ("endpoint_ids", "watcher_ids"):
            setattr(ticket, name, value)
    new_priority = priority(ticket.impact, ticket.urgency, matrix)
    if new_priority != ticket.priority or "category_id" in changes or "site_id" in changes:
        ticket.priority = new_priority
        await sla.start(session, ticket, now)
    ticket.updated_at = now
    await _replace_links(
        session, ticket.id, changes.get("endpoint_ids"), changes.get("watcher_ids")
    )
    after = snapshot(ticket)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    listed = sorted(k for k in changes if k not in after)
    timeline.record(
        session,
        ticket,
        "field",
        actor.name,
        body=", ".join(sorted(changed) + listed),
        data={"changed": changed, "set": listed},
    )
    audit.record(session, actor, "update", "ticket", ticket.id, before=before, after=after)
    await session.commit()
    return ticket
