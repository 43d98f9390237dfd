"""Delivery of the notification outbox: e-mail through the SMTP relay, signed webhook POSTs.

A row is claimed before it is sent: one conditional UPDATE (pending, due -> sending) per
row, which exactly one worker wins on SQLite and on PostgreSQL alike, so replicas sharing
a database never both send it. A claim is a lease: a worker that dies mid-send leaves the
row "sending", and once the lease has run out another worker takes it again (the mail may
then go out twice; losing it would be worse).

Each failure waits the next step of the backoff (DESKSIDE_DELIVERY_BACKOFF_S) and one
attempt more than the backoff has steps is the last; then the row is failed with its
last error. An SMTP 5xx answer is final at once. With no relay set, e-mail rows are
skipped, saying so. A sent or failed delivery is noted on the ticket's timeline (an
internal "notification" entry). One row's failure never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import httpx
from sqlalchemy import select, update

from controller.desk import timeline
from controller.settings import Settings, split_listen
from controller.storage.db import SessionFactory
from controller.storage.models import MailThread, Notification, Ticket, Webhook
from controller.storage.types import utcnow

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 1.0
BATCH = 20
LEASE = dt.timedelta(minutes=5)  # well over the longest send (timeouts below)
SMTP_TIMEOUT_S = 30.0
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
ACTOR = "notifications"
NO_RELAY = "no SMTP relay is configured (DESKSIDE_SMTP_RELAY)"
ERROR_MAX = 2000
# The API request or check result behind the message, as a header of both channels.
CORRELATION_HEADER = "X-Deskside-Correlation-Id"


class Permanent(Exception):
    """A failure that trying again will not fix."""


class Skipped(Exception):
    """Nothing to deliver to (no relay, a webhook deactivated since the event)."""


class Refused(Exception):
    """The receiver answered, but not with success: try again later."""


@dataclass(frozen=True)
class Claim:
    """A row this worker holds; attempts (counted at the claim) proves the lease is ours."""

    id: int
    channel: str
    ticket_id: int | None
    event: str
    target: str
    webhook_id: int | None
    subject: str
    body: str
    message_id: str
    attempts: int
    correlation_id: str


class DeliveryWorker:
    def __init__(
        self, sessions: SessionFactory, settings: Settings, http: httpx.AsyncClient | None = None
    ) -> None:
        self._sessions = sessions
        self._relay = split_listen(settings.smtp_relay) if settings.smtp_relay else None
        self._from = settings.mail_from
        self._envelope_from = parseaddr(settings.mail_from)[1]
        self._helo = self._envelope_from.rpartition("@")[2] or "localhost"
        self._backoff = [dt.timedelta(seconds=s) for s in settings.delivery_backoff_s]
        self._http = http or httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT, follow_redirects=False)
        self._wake = asyncio.Event()

    @property
    def max_attempts(self) -> int:
        return len(self._backoff) + 1

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def run(self) -> None:
        if self._relay is None:
            log.warning("%s: e-mail notifications are skipped", NO_RELAY)
        if not log.isEnabledFor(logging.DEBUG):  # httpx logs each URL, query (keys) and all
            logging.getLogger("httpx").setLevel(logging.WARNING)
        try:
            while True:
                self._wake.clear()
                try:
                    handled = await self.run_once()
                except Exception:
                    log.exception("notification delivery pass failed")
                    handled = 0
                if handled < BATCH:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_S)
        finally:
            await self.aclose()

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """One pass: claim what is due and deliver it; returns how many rows it claimed."""
        now = now or utcnow()
        claims = await self.claim(now)
        await asyncio.gather(*(self._deliver(claim) for claim in claims))
        return len(claims)

    async def claim(self, now: dt.datetime) -> list[Claim]:
        """Take up to BATCH due rows: pending ones, and sending ones whose lease ran out."""
        due = (
            Notification.state.in_(("pending", "sending")),
            Notification.next_attempt_at <= now,
        )
        async with self._sessions() as session:
            candidates = await session.scalars(
                select(Notification.id)
                .where(*due)
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(BATCH)
            )
            won: list[int] = []
            for row_id in sorted(candidates):  # one order for every replica: no deadlock
                taken = await session.execute(
                    update(Notification)
                    .where(Notification.id == row_id, *due)
                    .values(
                        state="sending",
                        attempts=Notification.attempts + 1,
                        next_attempt_at=now + LEASE,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    won.append(row_id)
            await session.commit()
            if not won:
                return []
            rows = await session.scalars(select(Notification).where(Notification.id.in_(won)))
            return [
                Claim(
                    r.id,
                    r.channel,
                    r.ticket_id,
                    r.event,
                    r.target,
                    r.webhook_id,
                    r.subject,
                    r.body,
                    r.message_id,
                    r.attempts,
                    r.correlation_id,
                )
                for r in rows
            ]

    async def _deliver(self, claim: Claim) -> None:
        state, error = "sent", ""
        try:
            if claim.channel == "email":
                await self._send_mail(claim)
            elif claim.channel == "webhook":
                await self._post_webhook(claim)
            else:
                raise Permanent(f"unknown channel {claim.channel!r}")
        except Skipped as exc:
            state, error = "skipped", str(exc)
        except Permanent as exc:
            state, error = "failed", str(exc)
        except Exception as exc:  # network, timeouts, refusals: try again later
            error = str(exc) if isinstance(exc, Refused) else f"{type(exc).__name__}: {exc}"
            state = "failed" if claim.attempts >= self.max_attempts else "pending"
        if state != "sent":
            log.info("notification %s (%s): %s: %s", claim.id, claim.channel, state, error)
        try:
            await self._record(claim, state, error[:ERROR_MAX])
        except Exception:  # the lease runs out and the row is tried again
            log.exception("could not record the delivery of notification %s", claim.id)

    async def _record(self, claim: Claim, state: str, error: str) -> None:
        now = utcnow()
        values: dict[str, Any] = {"state": state, "last_error": error}
        if state == "sent":
            values["sent_at"] = now
        if state == "pending":
            values["next_attempt_at"] = now + self._backoff[claim.attempts - 1]
        async with self._sessions() as session:
            mine = await session.execute(
                update(Notification)
                .where(
                    Notification.id == claim.id,
                    Notification.state == "sending",
                    Notification.attempts == claim.attempts,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if mine.rowcount != 1:  # type: ignore[attr-defined]
                log.warning("notification %s: lease lost before recording", claim.id)
                return
            ticket = await session.get(Ticket, claim.ticket_id) if claim.ticket_id else None
            if ticket is not None and state in ("sent", "failed"):
                timeline.record(
                    session,
                    ticket,
                    "notification",
                    ACTOR,
                    body=_summary(claim, state, error),
                    data={
                        "notification_id": claim.id,
                        "channel": claim.channel,
                        "event": claim.event,
                        "target": _shown_target(claim),
                        "state": state,
                        "attempts": claim.attempts,
                        "error": error,
                    },
                )
            await session.commit()

    async def _send_mail(self, claim: Claim) -> None:
        if self._relay is None:
            raise Skipped(NO_RELAY)
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = claim.target
        message["Subject"] = " ".join(claim.subject.split())
        message["Date"] = formatdate(usegmt=True)
        message_id = claim.message_id or make_msgid(domain="deskside")
        message["Message-ID"] = message_id
        first = await self._first_message_id(claim.ticket_id)
        if first and first != message_id:
            message["In-Reply-To"] = first
            message["References"] = first
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders keep quiet
        if claim.correlation_id:
            message[CORRELATION_HEADER] = claim.correlation_id
        message.set_content(claim.body)
        await asyncio.to_thread(self._smtp_send, message, claim.target)

    def _smtp_send(self, message: EmailMessage, to: str) -> None:
        assert self._relay is not None
        host, port = self._relay
        try:
            with smtplib.SMTP(host, port, local_hostname=self._helo, timeout=SMTP_TIMEOUT_S) as s:
                s.send_message(message, from_addr=self._envelope_from, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise Permanent(f"the relay refused {to}: {exc.recipients}") from None
            raise
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise Permanent(f"the relay answered {exc.smtp_code} {exc.smtp_error!r}") from None
            raise

    async def _first_message_id(self, ticket_id: int | None) -> str | None:
        """The ticket's first message, which every later one answers so clients thread."""
        if ticket_id is None:
            return None
        async with self._sessions() as session:
            first: str | None = await session.scalar(
                select(MailThread.message_id)
                .where(MailThread.ticket_id == ticket_id)
                .order_by(MailThread.created_at, MailThread.message_id)
                .limit(1)
            )
            return first

    async def _post_webhook(self, claim: Claim) -> None:
        async with self._sessions() as session:
            hook = await session.get(Webhook, claim.webhook_id) if claim.webhook_id else None
            ticket = await session.get(Ticket, claim.ticket_id) if claim.ticket_id else None
        if hook is None or not hook.active:
            raise Skipped(f"webhook {claim.webhook_id} was deleted or deactivated")
        payload = {
            "event": claim.event,
            "ticket_id": claim.ticket_id,
            "subject": claim.subject,
            "summary": claim.body,
            "delivered_at": utcnow().isoformat(),
            "correlation_id": claim.correlation_id,
            "ticket": None
            if ticket is None
            else {
                "id": ticket.id,
                "title": ticket.title,
                "state": ticket.state,
                "priority": ticket.priority,
                "team_id": ticket.team_id,
                "assignee_id": ticket.assignee_id,
            },
        }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        signature = hmac.new(hook.secret.encode(), raw, hashlib.sha256).hexdigest()
        response = await self._http.post(
            hook.url,
            content=raw,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "deskside-webhooks",
                "X-Deskside-Event": claim.event,
                "X-Deskside-Delivery": str(claim.id),
                "X-Deskside-Signature": f"sha256={signature}",
                CORRELATION_HEADER: claim.correlation_id,
            },
        )
        if not 200 <= response.status_code < 300:
            raise Refused(f"the receiver answered HTTP {response.status_code}")


def _shown_target(claim: Claim) -> str:
    """An address, or a webhook's URL without its query (which may carry a key)."""
    return claim.target.split("?", 1)[0] if claim.channel == "webhook" else claim.target


def _summary(claim: Claim, state: str, error: str) -> str:
    what = f"e-mail to {claim.target}"
    if claim.channel == "webhook":
        what = f"webhook {_shown_target(claim)}"
    tries = f"{claim.attempts} attempt" + ("s" if claim.attempts != 1 else "")
    if state == "sent":
        return f"{claim.event}: {what} delivered ({tries})"
    return f"{claim.event}: {what} failed after {tries}: {error}"
