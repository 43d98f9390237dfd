"""Who hears of a ticket event, written to the outbox in the transaction of the change.

The requester hears of every public change; the assignee (or, while nobody holds it, the
team's mailbox or lead) of what concerns them; watchers
of everything they may see (a requester watching hears only public changes); webhooks of
the event kinds they subscribe to. Delivery (SMTP relay, signed webhook POSTs, retries)
reads the outbox afterwards, so a slow mail server never holds up the desk.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.roles import ROLE_PERMISSIONS, Permission, Role
from controller.storage.models import (
    MailThread,
    Notification,
    Team,
    Ticket,
    User,
    Webhook,
    ticket_watchers,
)

EVENTS = (
    "ticket.created",
    "ticket.comment",
    "ticket.state",
    "ticket.assigned",
    "ticket.escalated",
    "ticket.sla_warning",
    "ticket.sla_breach",
    "ticket.follow_up",
)
MAIL_DOMAIN = "deskside"


def subject(ticket: Ticket) -> str:
    """Replies keep the tag, which threads them onto the ticket."""
    return f"[#{ticket.id}] {ticket.title}"


def body(ticket: Ticket, summary: str) -> str:
    return (
        f"Ticket #{ticket.id}: {ticket.title}\n"
        f"State: {ticket.state}   Priority: P{ticket.priority}\n\n"
        f"{summary}\n\n"
        f"-- \nReply to this message to add to the ticket; keep [#{ticket.id}] in the subject.\n"
    )


def new_message_id(ticket_id: int) -> str:
    return f"<ticket-{ticket_id}.{uuid.uuid4().hex}@{MAIL_DOMAIN}>"


async def _holder(session: AsyncSession, ticket: Ticket) -> set[str]:
    """Whoever has the ticket: its assignee, else its team (the team's mailbox or lead)."""
    if ticket.assignee_id is not None:
        assignee = await session.get(User, ticket.assignee_id)
        if assignee is not None and assignee.email and not assignee.disabled:
            return {assignee.email}
        return set()
    team = await session.get(Team, ticket.team_id) if ticket.team_id is not None else None
    if team is None:
        return set()
    if team.email:
        return {team.email}
    lead = await session.get(User, team.lead_id) if team.lead_id is not None else None
    return {lead.email} if lead is not None and lead.email and not lead.disabled else set()


async def _recipients(session: AsyncSession, ticket: Ticket, event: str, public: bool) -> set[str]:
    addresses: set[str] = set()
    if public:
        if ticket.requester_email:
            addresses.add(ticket.requester_email)
        if ticket.requester_id is not None:
            requester = await session.get(User, ticket.requester_id)
            if requester is not None and requester.email and not requester.disabled:
                addresses.add(requester.email)
    if event != "ticket.created":
        addresses |= await _holder(session, ticket)
    watchers = await session.scalars(
        select(User).where(
            User.id.in_(
                select(ticket_watchers.c.user_id).where(ticket_watchers.c.ticket_id == ticket.id)
            ),
            User.disabled.is_(False),
        )
    )
    for watcher in watchers:
        staff = Permission.TICKETS_READ in ROLE_PERMISSIONS[Role(watcher.role)]
        if watcher.email and (public or staff):
            addresses.add(watcher.email)
    return addresses


async def ticket_event(
    session: AsyncSession,
    ticket: Ticket,
    event: str,
    summary: str,
    *,
    public: bool,
    correlation_id: str = "",
) -> list[Notification]:
    """Queue the e-mails and webhook calls for one event; flushed with the caller's change.
    correlation_id: the request or check result that caused it, carried to the receivers."""
    assert event in EVENTS, event
    queued: list[Notification] = []
    for address in sorted(await _recipients(session, ticket, event, public)):
        message_id = new_message_id(ticket.id)
        session.add(MailThread(message_id=message_id, ticket_id=ticket.id))
        queued.append(
            Notification(
                channel="email",
                ticket_id=ticket.id,
                event=event,
                target=address,
                subject=subject(ticket),
                body=body(ticket, summary),
                message_id=message_id,
                correlation_id=correlation_id,
            )
        )
    hooks = await session.scalars(select(Webhook).where(Webhook.active.is_(True)))
    for hook in hooks:
        if hook.events and event not in hook.events:
            continue
        queued.append(
            Notification(
                channel="webhook",
                ticket_id=ticket.id,
                event=event,
                target=hook.url,
                webhook_id=hook.id,
                subject=subject(ticket),
                body=summary,
                correlation_id=correlation_id,
            )
        )
    session.add_all(queued)
    return queued
