"""The notification outbox's delivery in-process, on SQLite and PostgreSQL, against a real
SMTP relay and a real HTTP receiver: claims, threading headers, signatures, retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from mail_servers import HookReceiver, Relay
from sqlalchemy import select

from controller.access.actor import Actor
from controller.desk import tickets, workflow
from controller.desk.delivery import NO_RELAY, DeliveryWorker
from controller.errors import ConfigError
from controller.settings import Settings, load_settings
from controller.storage.db import SessionFactory, create_engine, session_factory
from controller.storage.migrate import upgrade
from controller.storage.models import Notification, TicketEvent, Webhook
from controller.storage.types import utcnow

DESK = Actor.system("test")
LATER = dt.timedelta(days=1)  # "now" for a pass that should find every retry due


@dataclass
class Outbox:
    sessions: SessionFactory

    def worker(
        self, relay: str | None = None, backoff: list[float] | None = None
    ) -> DeliveryWorker:
        settings = Settings(
            smtp_relay=relay,
            mail_from="Help Desk <desk@desk.test>",
            delivery_backoff_s=backoff or [30.0, 120.0],
        )
        return DeliveryWorker(self.sessions, settings)

    async def rows(self, ticket_id: int) -> list[Notification]:
        async with self.sessions() as s:
            found = await s.scalars(select(Notification).where(Notification.ticket_id == ticket_id))
            return sorted(found, key=lambda n: n.id)

    async def notes(self, ticket_id: int) -> list[TicketEvent]:
        async with self.sessions() as s:
            found = await s.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "notification")
                .order_by(TicketEvent.id)
            )
            return list(found)

    async def ticket(self, email: str = "") -> int:
        async with self.sessions() as s:
            draft = tickets.TicketDraft(
                title="Printer\njammed", requester_email=email or f"{uuid.uuid4().hex}@x.test"
            )
            return (await tickets.create_ticket(s, DESK, draft)).id


@pytest.fixture
async def outbox(database: str) -> AsyncIterator[Outbox]:
    engine = create_engine(database)
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as s:  # rows other tests left behind must not be claimed here
        for row in await s.scalars(select(Notification).where(Notification.state == "pending")):
            row.state = "skipped"
        for hook in await s.scalars(select(Webhook)):
            hook.active = False
        await s.commit()
    yield Outbox(sessions)
    await engine.dispose()


async def _drain(worker: DeliveryWorker, now: dt.datetime | None = None) -> None:
    try:
        while await worker.run_once(now):
            pass
    finally:
        await worker.aclose()


async def test_mail_goes_through_the_relay_threaded_under_the_first_message(
    outbox: Outbox,
) -> None:
    with Relay() as relay:
        ticket_id = await outbox.ticket("ann@x.test")
        await _drain(outbox.worker(relay.address))
        async with outbox.sessions() as s:
            await workflow.comment(s, DESK, ticket_id, "On its way.")
        await _drain(outbox.worker(relay.address))
        first, second = [r.message for r in relay.messages()]
    rows = await outbox.rows(ticket_id)
    assert [(r.state, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]
    assert first["Message-ID"] == rows[0].message_id
    assert first["Subject"] == f"[#{ticket_id}] Printer jammed"
    assert (first["From"], first["To"]) == ("Help Desk <desk@desk.test>", "ann@x.test")
    assert first["In-Reply-To"] is None and first["Auto-Submitted"] == "auto-generated"
    assert second["In-Reply-To"] == second["References"] == rows[0].message_id
    assert "On its way." in second.get_content()
    notes = await outbox.notes(ticket_id)
    assert [(n.public, n.data["state"], n.data["channel"]) for n in notes] == [
        (False, "sent", "email"),
        (False, "sent", "email"),
    ]


async def test_without_a_relay_mail_is_skipped_saying_why(outbox: Outbox) -> None:
    ticket_id = await outbox.ticket()
    await _drain(outbox.worker(None))
    [row] = await outbox.rows(ticket_id)
    assert (row.state, row.last_error) == ("skipped", NO_RELAY)
    assert await outbox.notes(ticket_id) == []


async def test_a_permanent_refusal_fails_at_once_and_the_loop_goes_on(outbox: Outbox) -> None:
    with Relay(answer="554 5.7.1 rejected") as relay:
        broken = await outbox.ticket()
        await _drain(outbox.worker(relay.address))
    [row] = await outbox.rows(broken)
    assert (row.state, row.attempts) == ("failed", 1)
    assert "554" in row.last_error
    [note] = await outbox.notes(broken)
    assert note.data["state"] == "failed" and "failed after 1 attempt" in note.body


async def test_webhooks_are_signed_and_retried_with_backoff_until_they_give_up(
    outbox: Outbox,
) -> None:
    with HookReceiver(statuses=[500]) as receiver, HookReceiver([500, 500, 503]) as dead:
        async with outbox.sessions() as s:
            s.add(Webhook(url=receiver.url, secret="s3cret", events=["ticket.created"]))
            s.add(Webhook(url=dead.url + "?key=k", secret="x", events=[]))
            await s.commit()
        ticket_id = await outbox.ticket()
        await _drain(outbox.worker(None, backoff=[60.0, 60.0]))
        hooks = [r for r in await outbox.rows(ticket_id) if r.channel == "webhook"]
        assert [(r.state, r.attempts) for r in hooks] == [("pending", 1), ("pending", 1)]
        assert all(r.next_attempt_at > utcnow() + dt.timedelta(seconds=30) for r in hooks)
        # A day on, every retry is due: the live one succeeds, the dead one gives up.
        await _drain(outbox.worker(None, backoff=[60.0, 60.0]), utcnow() + LATER)
        hits = receiver.received()
    assert [h.status for h in hits] == [500, 200]
    assert [h.status for h in dead.received()] == [500, 500, 503]
    body = hits[1].body
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hits[1].headers["X-Deskside-Signature"] == f"sha256={expected}"
    assert hits[1].headers["X-Deskside-Event"] == "ticket.created"
    by_target = {r.target: r for r in await outbox.rows(ticket_id) if r.channel == "webhook"}
    live, gone = by_target[receiver.url], by_target[dead.url + "?key=k"]
    assert hits[1].headers["X-Deskside-Delivery"] == str(live.id)
    payload = json.loads(body)
    assert payload["event"] == "ticket.created" and payload["ticket_id"] == ticket_id
    assert payload["ticket"]["id"] == ticket_id and payload["ticket"]["state"] == "new"
    assert set(payload) == {
        "event",
        "ticket_id",
        "subject",
        "summary",
        "delivered_at",
        "correlation_id",
        "ticket",
    }
    assert [(r.state, r.attempts) for r in (live, gone)] == [("sent", 2), ("failed", 3)]
    assert gone.last_error == "the receiver answered HTTP 503"
    notes = {n.data["notification_id"]: n for n in await outbox.notes(ticket_id)}
    assert (notes[live.id].data["state"], notes[gone.id].data["state"]) == ("sent", "failed")
    assert "?key" not in notes[gone.id].body


async def test_two_workers_never_claim_the_same_row(outbox: Outbox) -> None:
    ids = [await outbox.ticket() for _ in range(6)]
    now = utcnow()
    first, second = outbox.worker(), outbox.worker()
    try:
        claims = await asyncio.gather(*(w.claim(now) for w in (first, second, first, second)))
    finally:
        await first.aclose()
        await second.aclose()
    claimed = [c.id for batch in claims for c in batch]
    rows = [r for t in ids for r in await outbox.rows(t)]
    assert sorted(claimed) == sorted(r.id for r in rows)  # each exactly once
    assert {(r.state, r.attempts) for r in rows} == {("sending", 1)}
    # A lease that ran out (the claimer died) is taken again, once.
    again = await outbox.worker().claim(now + dt.timedelta(hours=1))
    assert sorted(c.id for c in again) == sorted(claimed)
    assert {c.attempts for c in again} == {2}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("smtp_relay", "relay.test:0"),
        ("smtp_relay", "relay.test"),
        ("smtp_listen", "127.0.0.1:99999"),
        ("mail_from", "nobody"),
        ("mail_from", "desk@x.test\r\nBcc: all@x.test"),
        ("attachment_max_bytes", 0),
        ("mail_max_bytes", 10),
        ("delivery_backoff_s", []),
        ("delivery_backoff_s", [30, -1]),
    ],
)
def test_bad_mail_settings_stop_the_start_naming_the_setting(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"DESKSIDE_{name.upper()}: "):
        load_settings(**{name: value})
