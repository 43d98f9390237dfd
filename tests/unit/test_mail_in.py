"""E-mail intake in-process, on SQLite and PostgreSQL: what a message says, and what the
desk does with it (new ticket, comment, reopen, duplicate, attachments)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from controller.access.actor import Actor
from controller.desk import tickets, workflow
from controller.desk.mail_in import Intake, Outcome
from controller.desk.mail_parse import clean_subject, html_to_text, parse, strip_quoted
from controller.errors import InvalidInput
from controller.storage.db import SessionFactory, create_engine, session_factory
from controller.storage.migrate import upgrade
from controller.storage.models import (
    Attachment,
    AuditEvent,
    MailThread,
    Ticket,
    TicketEvent,
    User,
    ticket_watchers,
)

DESK = Actor.system("test")
LIMIT = 1000


@dataclass
class Desk:
    engine: AsyncEngine
    sessions: SessionFactory
    intake: Intake

    async def receive(self, message: EmailMessage, envelope_from: str | None = None) -> Outcome:
        return await self.intake.receive(message.as_bytes(), envelope_from=envelope_from)


@pytest.fixture
async def desk(database: str) -> AsyncIterator[Desk]:
    engine = create_engine(database)
    await upgrade(engine)
    intake = Intake(
        engine, attachment_max_bytes=LIMIT, mail_max_bytes=64 * 1024, mail_from="desk@desk.test"
    )
    yield Desk(engine, session_factory(engine), intake)
    await engine.dispose()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _mail(
    sender: str,
    subject: str = "",
    text: str = "",
    *,
    in_reply_to: str = "",
    references: str = "",
    message_id: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "desk@desk.test"
    if subject:
        message["Subject"] = subject
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@mail.test>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    if text:
        message.set_content(text)
    return message


async def _user(desk: Desk, role: str = "requester") -> User:
    name = _unique(role)
    async with desk.sessions() as s:
        user = User(username=name, role=role, email=f"{name}@example.test")
        s.add(user)
        await s.commit()
        return user


async def _ticket(
    desk: Desk, requester_email: str, assignee_id: int | None = None
) -> tuple[int, str]:
    """A ticket opened at the desk for an outside requester, and its first mail's id."""
    async with desk.sessions() as s:
        draft = tickets.TicketDraft(
            title="VPN drops", requester_email=requester_email, assignee_id=assignee_id
        )
        ticket = await tickets.create_ticket(s, DESK, draft)
        message_id = await s.scalar(
            select(MailThread.message_id)
            .where(MailThread.ticket_id == ticket.id)
            .order_by(MailThread.created_at)
            .limit(1)
        )
        assert message_id is not None
        return ticket.id, message_id


async def _get(desk: Desk, ticket_id: int) -> Ticket:
    async with desk.sessions() as s:
        ticket = await s.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def _events(desk: Desk, ticket_id: int, kind: str) -> list[TicketEvent]:
    async with desk.sessions() as s:
        found = await s.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
            .order_by(TicketEvent.id)
        )
        return list(found)


async def _ticket_count(desk: Desk) -> int:
    async with desk.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Ticket)) or 0)


# What a message says ---------------------------------------------------------------------


def test_subjects_lose_reply_prefixes_and_tags() -> None:
    assert clean_subject("Re: AW: Fwd: [#12] Printer jammed") == "Printer jammed"
    assert clean_subject("RE[2]: FW:  Printer   jammed [#3]") == "Printer jammed"
    assert clean_subject("Re: ") == "(no subject)"
    assert clean_subject("Report: disk full") == "Report: disk full"


def test_quoted_text_is_stripped() -> None:
    assert strip_quoted("Done.\n> old\n> older\nThanks") == "Done.\nThanks"
    reply = "Still broken.\n\nOn Mon, 3 Mar 2025 at 10:00, Desk <desk@x.test> wrote:\n> hi\n"
    assert strip_quoted(reply) == "Still broken."
    wrapped = "Yes.\nOn Mon, 3 Mar 2025 at 10:00 Service Desk <\ndesk@x.test> wrote:\nold\n"
    assert strip_quoted(wrapped) == "Yes."
    outlook = "Fixed.\n-----Original Message-----\nFrom: desk\nold text"
    assert strip_quoted(outlook) == "Fixed."
    assert strip_quoted("On the second floor the printer wrote nothing.") != ""


def test_html_only_mail_gives_text_and_attachments_are_found() -> None:
    message = _mail("Ann <ann@example.test>", "Screen")
    message.set_content("<html><style>p{}</style><p>Black&nbsp;screen</p><p>again</p></html>")
    message.replace_header("Content-Type", "text/html; charset=utf-8")
    mail = parse(message.as_bytes())
    assert mail.text == "Black screen\n\nagain"
    assert html_to_text("<div>a &amp; b<br>c</div>") == "a & b\nc"
    message = _mail("ann@example.test", "Logs", "See attached.")
    message.add_attachment(b"x" * 10, maintype="text", subtype="plain", filename="../../app.log")
    mail = parse(message.as_bytes())
    assert [(p.filename, p.content_type, p.content) for p in mail.attachments] == [
        ("app.log", "text/plain", b"x" * 10)
    ]
    assert mail.text == "See attached."


def test_auto_replies_and_bounces_are_recognised() -> None:
    auto = _mail("ann@example.test", "Out of office", "Away.")
    auto["Auto-Submitted"] = "auto-replied"
    assert parse(auto.as_bytes()).automatic
    plain = _mail("ann@example.test", "Help", "Please.")
    assert not parse(plain.as_bytes()).automatic
    assert parse(plain.as_bytes(), envelope_from="").automatic  # null sender: a bounce


# What the desk does with it -----------------------------------------------------------------


async def test_new_mail_from_a_stranger_opens_a_ticket(desk: Desk) -> None:
    before = await _ticket_count(desk)
    outcome = await desk.receive(
        _mail("Ann Smith <ann@outside.test>", "Fwd: Printer on floor 2", "It jams.")
    )
    assert outcome.action == "created"
    assert await _ticket_count(desk) == before + 1
    ticket = await _get(desk, outcome.ticket_id or 0)
    assert (ticket.title, ticket.description, ticket.channel) == (
        "Printer on floor 2",
        "It jams.",
        "email",
    )
    assert (ticket.requester_id, ticket.requester_name, ticket.requester_email) == (
        None,
        "Ann Smith",
        "ann@outside.test",
    )
    async with desk.sessions() as s:
        audited = await s.scalar(
            select(AuditEvent).where(
                AuditEvent.object_type == "ticket", AuditEvent.object_id == str(ticket.id)
            )
        )
        assert audited is not None and (audited.actor, audited.action) == ("mail", "create")


async def test_mail_from_a_user_makes_them_the_requester(desk: Desk) -> None:
    user = await _user(desk)
    outcome = await desk.receive(_mail(user.email.upper(), "Laptop slow", "Very."))
    ticket = await _get(desk, outcome.ticket_id or 0)
    assert (ticket.requester_id, ticket.requester_email) == (user.id, "")


async def test_empty_mail_from_nobody_is_still_a_ticket(desk: Desk) -> None:
    message = EmailMessage()
    message["Message-ID"] = f"<{uuid.uuid4().hex}@nowhere>"
    outcome = await desk.receive(message)
    ticket = await _get(desk, outcome.ticket_id or 0)
    assert (ticket.title, ticket.description) == ("(no subject)", "")
    assert (ticket.requester_name, ticket.requester_email) == ("unknown sender", "")


async def test_reply_by_in_reply_to_is_a_public_comment_without_quotes(desk: Desk) -> None:
    ticket_id, first = await _ticket(desk, "bob@outside.test")
    reply = _mail(
        "Bob <bob@outside.test>",
        "Re: something else entirely",
        "Still dropping.\n\nOn Tue, 4 Mar 2025, Desk <desk@desk.test> wrote:\n> Ticket opened\n",
        in_reply_to=first,
    )
    outcome = await desk.receive(reply)
    assert (outcome.action, outcome.ticket_id) == ("commented", ticket_id)
    [comment] = await _events(desk, ticket_id, "comment")
    assert (comment.body, comment.public, comment.actor) == (
        "Still dropping.",
        True,
        "Bob <bob@outside.test>",
    )
    # The reply's own id threads later mail too, and References alone is enough.
    again = _mail("carol@outside.test", "", "Me too.", references=f"<x@y> {reply['Message-ID']}")
    assert (await desk.receive(again)).ticket_id == ticket_id


async def test_tag_from_the_requester_threads_and_from_a_stranger_opens_anew(desk: Desk) -> None:
    ticket_id, _ = await _ticket(desk, "dora@outside.test")
    ours = await desk.receive(_mail("dora@outside.test", f"Re: [#{ticket_id}] VPN", "Update."))
    assert (ours.action, ours.ticket_id) == ("commented", ticket_id)
    theirs = await desk.receive(_mail("mallory@evil.test", f"[#{ticket_id}] VPN", "Close it."))
    assert theirs.action == "created" and theirs.ticket_id != ticket_id
    assert (await _get(desk, theirs.ticket_id or 0)).title == "VPN"
    nonexistent = await desk.receive(_mail("dora@outside.test", "[#999999999] Hello", "Hi."))
    assert nonexistent.action == "created"


async def test_tag_from_a_watcher_or_staff_threads(desk: Desk) -> None:
    ticket_id, _ = await _ticket(desk, "erin@outside.test")
    watcher, analyst = await _user(desk), await _user(desk, "tier1")
    async with desk.sessions() as s:
        await s.execute(insert(ticket_watchers).values(ticket_id=ticket_id, user_id=watcher.id))
        await s.commit()
    for user in (watcher, analyst):
        outcome = await desk.receive(_mail(user.email, f"[#{ticket_id}] VPN", "Noted."))
        assert (outcome.action, outcome.ticket_id) == ("commented", ticket_id)
    assert [e.actor for e in await _events(desk, ticket_id, "comment")] == [
        watcher.username,
        analyst.username,
    ]


async def test_a_message_seen_before_is_ignored(desk: Desk) -> None:
    before = await _ticket_count(desk)
    message = _mail("fred@outside.test", "Mouse dead", "Click.")
    first = await desk.receive(message)
    second = await desk.receive(message)
    assert first.action == "created"
    assert (second.action, second.ticket_id) == ("duplicate", first.ticket_id)
    assert await _ticket_count(desk) == before + 1
    ticket_id, sent = await _ticket(desk, "fred@outside.test")
    reply = _mail("fred@outside.test", "Re", "Thanks.", in_reply_to=sent)
    await desk.receive(reply)
    assert (await desk.receive(reply)).action == "duplicate"
    assert len(await _events(desk, ticket_id, "comment")) == 1
    # The desk's own outgoing Message-IDs are known too: a bounced copy adds nothing.
    assert (await desk.receive(_mail("x@y.test", "copy", "x", message_id=sent))).action == (
        "duplicate"
    )


async def test_requester_reply_puts_a_pending_ticket_back_to_work(desk: Desk) -> None:
    analyst = await _user(desk, "tier1")
    ticket_id, first = await _ticket(desk, "gina@outside.test", assignee_id=analyst.id)
    async with desk.sessions() as s:
        await workflow.transition(s, DESK, ticket_id, "pending", reason="requester")
    await desk.receive(_mail("gina@outside.test", "Re", "Here it is.", in_reply_to=first))
    ticket = await _get(desk, ticket_id)
    assert (ticket.state, ticket.pending_reason) == ("in_progress", None)


async def test_requester_reopens_resolved_and_a_closed_ticket_gets_a_child(desk: Desk) -> None:
    analyst = await _user(desk, "tier1")
    ticket_id, first = await _ticket(desk, "hank@outside.test", assignee_id=analyst.id)
    async with desk.sessions() as s:
        await workflow.transition(s, DESK, ticket_id, "resolved", resolution="Rebooted.")
    stranger = await desk.receive(_mail("ivy@outside.test", "Re", "Great.", in_reply_to=first))
    assert stranger.action == "commented"
    assert (await _get(desk, ticket_id)).state == "resolved"
    outcome = await desk.receive(
        _mail("hank@outside.test", "Re", "Broken again.", in_reply_to=first)
    )
    assert (outcome.action, outcome.ticket_id) == ("reopened", ticket_id)
    assert (await _get(desk, ticket_id)).state == "in_progress"
    async with desk.sessions() as s:
        await workflow.transition(s, DESK, ticket_id, "resolved", resolution="Replaced.")
        await workflow.transition(s, DESK, ticket_id, "closed")
    late = await desk.receive(
        _mail("hank@outside.test", "Re: VPN", "And again.", in_reply_to=first)
    )
    assert late.action == "created" and late.ticket_id != ticket_id
    child = await _get(desk, late.ticket_id or 0)
    assert (child.parent_id, child.title, child.requester_email) == (
        ticket_id,
        "VPN",
        "hank@outside.test",
    )
    assert (await _get(desk, ticket_id)).state == "closed"
    more = await desk.receive(_mail("hank@outside.test", "Re", "Also this.", in_reply_to=first))
    assert (more.action, more.ticket_id) == ("commented", late.ticket_id)


async def test_attachments_are_stored_within_the_limit(desk: Desk) -> None:
    message = _mail("jo@outside.test", "Crash", "Logs attached.")
    small, big = b"a" * LIMIT, b"b" * (LIMIT + 1)
    message.add_attachment(
        small, maintype="application", subtype="zip", filename="C:\\tmp\\logs.zip"
    )
    message.add_attachment(big, maintype="image", subtype="png", filename="screen.png")
    outcome = await desk.receive(message)
    assert outcome.dropped == ("screen.png",)
    ticket_id = outcome.ticket_id or 0
    async with desk.sessions() as s:
        stored = list(await s.scalars(select(Attachment).where(Attachment.ticket_id == ticket_id)))
    assert [(a.filename, a.content_type, a.size, a.sha256, a.content) for a in stored] == [
        ("logs.zip", "application/zip", LIMIT, hashlib.sha256(small).hexdigest(), small)
    ]
    notes = await _events(desk, ticket_id, "attachment")
    assert [n.data.get("dropped", False) for n in notes] == [False, True]
    assert "screen.png" in notes[1].body and "dropped" in notes[1].body


async def test_machines_and_oversized_mail_are_refused_or_ignored(desk: Desk) -> None:
    before = await _ticket_count(desk)
    auto = _mail("kim@outside.test", "Out of office", "Away.")
    auto["Auto-Submitted"] = "auto-replied"
    assert (await desk.receive(auto)).action == "ignored"
    assert (await desk.receive(_mail("desk@desk.test", "Loop", "x"))).action == "ignored"
    huge = _mail("kim@outside.test", "Big", "x" * (64 * 1024))
    with pytest.raises(InvalidInput) as refused:
        await desk.receive(huge)
    assert refused.value.field == "message"
    assert await _ticket_count(desk) == before
