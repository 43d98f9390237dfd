"""E-mail in: a message opens a ticket or adds to the one it answers.

* A Message-ID seen before (sent or received, in mail_threads) is a copy: ignored.
* A message threads onto a ticket when In-Reply-To or References names a Message-ID the
  desk knows, or when its subject carries [#N] of a ticket and the sender is that
  ticket's requester, a watcher or a staff user. Anything else opens a new ticket.
* A threaded reply is a public comment by the sender, quoted text removed. The
  requester's reply puts a ticket pending on them back to work and reopens a resolved
  one; a reply to a closed ticket opens a new ticket whose parent is the closed one (and
  further replies from the same sender in the old thread go to that new ticket).
* Attachments become Attachment rows, each up to attachment_max_bytes; bigger ones are
  dropped and the drop is noted on the timeline.
* Auto-replies, bounces and the desk's own mail are ignored, so two robots cannot loop.

Each message is applied in one transaction: the desk's calls (create_ticket, comments,
transitions) run with commit=False, and the message's own Message-ID commits with them
or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import ROLE_PERMISSIONS, Permission, Role
from controller.desk import tickets, timeline, workflow
from controller.desk.mail_parse import Mail, clean_subject, parse, strip_quoted
from controller.desk.tickets import TicketDraft
from controller.errors import DesksideError, InvalidInput
from controller.storage.models import Attachment, MailThread, Ticket, User, ticket_watchers
from controller.storage.types import utcnow

log = logging.getLogger(__name__)
MAIL = Actor.system("mail")
EMPTY_REPLY = "(the reply had no text of its own)"


@dataclass(frozen=True)
class Outcome:
    action: str  # created | commented | reopened | duplicate | ignored
    ticket_id: int | None = None
    dropped: tuple[str, ...] = ()
    reason: str = ""


class Intake:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        attachment_max_bytes: int,
        mail_max_bytes: int,
        mail_from: str = "",
    ) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.attachment_max_bytes = attachment_max_bytes
        self.mail_max_bytes = mail_max_bytes
        self._own_address = parseaddr(mail_from)[1].lower()
        # One message at a time: intake is light, and a message and its copy racing in
        # on two connections then cannot both pass the duplicate check.
        self._lock = asyncio.Lock()

    async def receive(self, raw: bytes, *, envelope_from: str | None = None) -> Outcome:
        """Apply one message (its bytes as received). InvalidInput: too big."""
        if len(raw) > self.mail_max_bytes:
            raise InvalidInput("message", f"larger than the {self.mail_max_bytes} byte limit")
        mail = parse(raw, envelope_from)
        if mail.automatic:
            return Outcome("ignored", reason="an automatic reply or a bounce")
        if self._own_address and mail.sender_email.lower() == self._own_address:
            return Outcome("ignored", reason="mail from the desk's own address")
        async with self._lock, self._sessions() as session:
            try:
                outcome = await _apply(session, mail, self.attachment_max_bytes)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                known = await session.get(MailThread, mail.message_id)
                if known is None:
                    raise
                return Outcome("duplicate", known.ticket_id)
        log.info(
            "mail %s from %s: %s ticket %s",
            mail.message_id,
            mail.sender_email or "(unknown)",
            outcome.action,
            outcome.ticket_id,
        )
        return outcome


async def _apply(session: AsyncSession, mail: Mail, max_bytes: int) -> Outcome:
    received_at = utcnow()
    known = await session.get(MailThread, mail.message_id)
    if known is not None:
        return Outcome("duplicate", known.ticket_id)
    users = await _users_by_email(session, mail.sender_email)
    ticket = await _threaded(session, mail) or await _tagged(session, mail, users)
    if ticket is not None and ticket.state == "closed":
        ticket = await _follow_up_of(session, ticket, mail, users) or ticket
    if ticket is None or ticket.state == "closed":
        parent_id = ticket.id if ticket is not None else None
        ticket = await _open(session, mail, users, parent_id)
        action = "created"
        actor = MAIL
    else:
        action = await _reply(session, ticket, mail, users)
        actor = _actor_of(users[0]) if users else MAIL
    # Dated at receipt, before the desk's own mail about it: replies thread under it.
    session.add(MailThread(message_id=mail.message_id, ticket_id=ticket.id, created_at=received_at))
    dropped = await _attach(session, ticket, mail, _author(mail, users), actor, max_bytes)
    return Outcome(action, ticket.id, dropped)


async def _users_by_email(session: AsyncSession, address: str) -> list[User]:
    """Enabled users with this address (it is not unique), oldest first."""
    if not address:
        return []
    found = await session.scalars(
        select(User)
        .where(func.lower(User.email) == address.lower(), User.disabled.is_(False))
        .order_by(User.id)
    )
    return list(found)


async def _threaded(session: AsyncSession, mail: Mail) -> Ticket | None:
    if not mail.references:
        return None
    rows = await session.execute(
        select(MailThread.message_id, MailThread.ticket_id).where(
            MailThread.message_id.in_(mail.references)
        )
    )
    tickets_by_message = {message_id: ticket_id for message_id, ticket_id in rows}
    for message_id in mail.references:
        if message_id in tickets_by_message:
            return await session.get(Ticket, tickets_by_message[message_id])
    return None


async def _tagged(session: AsyncSession, mail: Mail, users: list[User]) -> Ticket | None:
    """The [#N] ticket, when the sender may add to it: the tag alone is easy to forge."""
    number = mail.tag
    if number is None:
        return None
    ticket = await session.get(Ticket, number)
    if ticket is None:
        return None
    if _is_requester(ticket, mail, users) or any(_is_staff(user) for user in users):
        return ticket
    if users:
        watching = await session.scalar(
            select(func.count())
            .select_from(ticket_watchers)
            .where(
                ticket_watchers.c.ticket_id == ticket.id,
                ticket_watchers.c.user_id.in_([user.id for user in users]),
            )
        )
        if watching:
            return ticket
    return None


async def _follow_up_of(
    session: AsyncSession, closed: Ticket, mail: Mail, users: list[User]
) -> Ticket | None:
    """The open ticket an earlier reply to this closed one opened for the same sender, so
    a conversation that goes on in the old thread makes one new ticket, not one a mail."""
    children = await session.scalars(
        select(Ticket)
        .where(Ticket.parent_id == closed.id, Ticket.channel == "email", Ticket.state != "closed")
        .order_by(Ticket.id.desc())
        .limit(20)
    )
    return next((child for child in children if _is_requester(child, mail, users)), None)


def _is_requester(ticket: Ticket, mail: Mail, users: list[User]) -> bool:
    address = mail.sender_email.lower()
    if address and address == ticket.requester_email.lower():
        return True
    return ticket.requester_id is not None and ticket.requester_id in {u.id for u in users}


def _is_staff(user: User) -> bool:
    return Permission.TICKETS_READ in ROLE_PERMISSIONS[Role(user.role)]


def _actor_of(user: User) -> Actor:
    role = Role(user.role)
    return Actor.for_user(
        user_id=user.id,
        username=user.username,
        role=role,
        owner_role=role,
        user_site_ids=[site.id for site in user.sites],
    )


def _author(mail: Mail, users: list[User]) -> str:
    """The name the timeline shows: the user's, else the sender's as the mail gave it."""
    if users:
        return users[0].username
    if mail.sender_email:
        return formataddr((mail.sender_name, mail.sender_email))[:200]
    return (mail.sender_name or "unknown sender")[:200]


async def _open(
    session: AsyncSession, mail: Mail, users: list[User], parent_id: int | None
) -> Ticket:
    """A new ticket from the mail; the sender is the requester (a user when one has the
    address). Mail from an unknown sender with nothing in it still opens one."""
    requester = users[0] if users else None
    draft = TicketDraft(
        title=clean_subject(mail.subject),
        description=mail.text,
        channel="email",
        requester_id=requester.id if requester is not None else None,
        requester_name=""
        if requester
        else (mail.sender_name or ("" if mail.sender_email else "unknown sender"))[:200],
        requester_email="" if requester else mail.sender_email,
        parent_id=parent_id,
    )
    return await tickets.create_ticket(session, MAIL, draft, commit=False)


async def _reply(session: AsyncSession, ticket: Ticket, mail: Mail, users: list[User]) -> str:
    """A public comment by the sender; the requester's reply reopens a resolved ticket."""
    from_requester = _is_requester(ticket, mail, users)
    body = strip_quoted(mail.text) or EMPTY_REPLY
    author = _author(mail, users)
    was = ticket.state
    await workflow.add_comment(
        session, ticket, author, body, public=True, from_requester=from_requester
    )
    actor = _actor_of(users[0]) if users else MAIL
    audit.record(
        session,
        actor,
        "comment",
        "ticket",
        ticket.id,
        after={"public": True, "via": "email", "message_id": mail.message_id},
    )
    if not (from_requester and was == "resolved"):
        return "commented"
    requester = next((u for u in users if u.id == ticket.requester_id), None)
    try:
        await workflow.transition(
            session,
            _actor_of(requester) if requester else MAIL,
            ticket.id,
            "in_progress",
            commit=False,
        )
    except DesksideError as exc:  # no assignee to take it back: say so, keep the comment
        timeline.record(session, ticket, "state", MAIL.name, body=f"could not reopen: {exc}")
        return "commented"
    return "reopened"


async def _attach(
    session: AsyncSession, ticket: Ticket, mail: Mail, author: str, actor: Actor, max_bytes: int
) -> tuple[str, ...]:
    """Store the attachments within the limit; note the dropped ones on the timeline."""
    dropped: list[str] = []
    stored: list[dict[str, object]] = []
    for part in mail.attachments:
        size = len(part.content)
        facts: dict[str, object] = {
            "filename": part.filename,
            "content_type": part.content_type,
            "size": size,
        }
        if size > max_bytes:
            dropped.append(part.filename)
            timeline.record(
                session,
                ticket,
                "attachment",
                author,
                body=f"{part.filename} ({size} bytes) was dropped: over the {max_bytes} byte limit",
                public=True,
                data={**facts, "dropped": True, "limit": max_bytes},
            )
            continue
        attachment = Attachment(
            ticket_id=ticket.id,
            filename=part.filename,
            content_type=part.content_type,
            size=size,
            sha256=hashlib.sha256(part.content).hexdigest(),
            content=part.content,
        )
        session.add(attachment)
        await session.flush()
        facts |= {"attachment_id": attachment.id, "sha256": attachment.sha256}
        stored.append(facts)
        timeline.record(
            session, ticket, "attachment", author, body=part.filename, public=True, data=facts
        )
    if stored or dropped:
        audit.record(
            session,
            actor,
            "attach",
            "ticket",
            ticket.id,
            after={"stored": stored, "dropped": dropped, "message_id": mail.message_id},
        )
    return tuple(dropped)
