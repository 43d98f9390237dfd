"""Notifications out and e-mail in, through a real controller: its mail goes to a real
SMTP relay, replies come back to its intake port over SMTP, webhooks reach a real HTTP
receiver that fails once, signed and retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from databases import require_or_skip
from mail_servers import HookReceiver, Received, Relay
from processes import ControllerProcess, wait_for

DESK_ADDRESS = "helpdesk@desk.test"
MAIL_MAX_BYTES = 256 * 1024
TIMEOUT = 30


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    with Relay() as server:
        yield server


@pytest.fixture(scope="module")
def desk(
    database: str, relay: Relay, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    process = ControllerProcess(
        tmp_path_factory.mktemp("mail-controller"),
        database,
        extra_env={
            "DESKSIDE_SMTP_RELAY": relay.address,
            "DESKSIDE_SMTP_LISTEN": "127.0.0.1:0",
            "DESKSIDE_MAIL_FROM": f"Help Desk <{DESK_ADDRESS}>",
            "DESKSIDE_MAIL_MAX_BYTES": str(MAIL_MAX_BYTES),
            "DESKSIDE_DELIVERY_BACKOFF_S": "[0.2, 0.2, 0.2]",
        },
    ).start()
    yield process
    assert process.stop() == 0, process.log()


def _address() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.test"


def _mail_to(relay: Relay, address: str, count: int = 1) -> list[Received]:
    def arrived() -> list[Received]:
        found = [r for r in relay.messages() if address in r.rcpt_tos]
        return found if len(found) >= count else []

    found: list[Received] = wait_for(arrived, TIMEOUT, f"{count} mail(s) to {address}")
    return found


def _send(desk: ControllerProcess, message: EmailMessage | bytes, sender: str) -> None:
    host, port = desk.smtp_address
    raw = message if isinstance(message, bytes) else message.as_bytes()
    with smtplib.SMTP(host, port, local_hostname="tests.local", timeout=TIMEOUT) as smtp:
        smtp.sendmail(sender, [DESK_ADDRESS], raw)


def _message(sender: str, subject: str, text: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = DESK_ADDRESS
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def _open(
    desk: ControllerProcess, requester_email: str, title: str, request_id: str | None = None
) -> int:
    with desk.client() as admin:
        created = admin.post(
            "/tickets",
            json={"title": title, "channel": "phone", "requester_email": requester_email},
            headers={"X-Request-ID": request_id} if request_id else None,
        )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _timeline(desk: ControllerProcess, ticket_id: int) -> list[dict[str, Any]]:
    with desk.client() as admin:
        response = admin.get(f"/tickets/{ticket_id}/timeline")
    assert response.status_code == 200, response.text
    return list(response.json())


def _tickets_titled(desk: ControllerProcess, title: str) -> list[dict[str, Any]]:
    with desk.client() as admin:
        response = admin.get("/tickets", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [t for t in response.json()["items"] if t["title"] == title]


def test_ticket_mail_goes_out_and_a_reply_comes_back_as_a_comment(
    desk: ControllerProcess, relay: Relay
) -> None:
    requester = _address()
    request_id = f"call-{uuid.uuid4().hex}"
    ticket_id = _open(desk, requester, "Wi-Fi keeps dropping", request_id)
    [opened] = _mail_to(relay, requester)
    assert f"[#{ticket_id}]" in opened.message["Subject"]
    # The request that opened the ticket, so a fault can be followed to the mail in hand.
    assert opened.message["X-Deskside-Correlation-Id"] == request_id
    assert opened.mail_from == DESK_ADDRESS
    first_id = opened.message["Message-ID"]
    reply = _message(
        f"Requester <{requester}>",
        f"Re: {opened.message['Subject']}",
        "It dropped again at 10:00.\n\nOn Tue, 4 Mar 2025, Help Desk wrote:\n> Ticket opened\n",
        In_Reply_To=first_id,
        References=first_id,
    )
    _send(desk, reply, requester)

    def commented() -> list[dict[str, Any]]:
        return [e for e in _timeline(desk, ticket_id) if e["kind"] == "comment"]

    [comment] = wait_for(commented, TIMEOUT, "the mailed reply on the timeline")
    assert (comment["body"], comment["public"]) == ("It dropped again at 10:00.", True)
    assert requester in comment["actor"]
    # The desk's mail about the comment threads under its first message.
    answered = _mail_to(relay, requester, count=2)[1].message
    assert answered["In-Reply-To"] == first_id
    sent = wait_for(
        lambda: [e for e in _timeline(desk, ticket_id) if e["kind"] == "notification"],
        TIMEOUT,
        "notification entries on the timeline",
    )
    assert sent[0]["data"]["state"] == "sent" and not sent[0]["public"]


def test_new_mail_opens_a_ticket_once_however_often_it_comes(
    desk: ControllerProcess, relay: Relay
) -> None:
    sender = _address()
    title = f"Monitor flickers {uuid.uuid4().hex[:6]}"
    message = _message(f"Flick Er <{sender}>", title, "Since this morning.")
    _send(desk, message, sender)
    _send(desk, message, sender)  # the same Message-ID again: a copy, not a second ticket
    [ticket] = _tickets_titled(desk, title)
    assert (ticket["channel"], ticket["requester_email"]) == ("email", sender)
    assert ticket["description"] == "Since this morning."
    [ack] = _mail_to(relay, sender)  # the requester hears of it, tagged for replies
    assert f"[#{ticket['id']}]" in ack.message["Subject"]
    assert ack.message["In-Reply-To"] == message["Message-ID"]


def test_oversized_mail_is_refused_with_552(desk: ControllerProcess) -> None:
    sender = _address()
    title = f"Huge {uuid.uuid4().hex[:6]}"
    big = _message(sender, title, "x" * 60 + ("\n" + "y" * 70) * (MAIL_MAX_BYTES // 70))
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        _send(desk, big, sender)
    assert refused.value.smtp_code == 552
    assert _tickets_titled(desk, title) == []


def test_webhooks_are_signed_and_retried(desk: ControllerProcess) -> None:
    with desk.client() as admin:
        paths = admin.get("/openapi.json").json()["paths"]
    if "/api/v1/webhooks" not in paths:
        require_or_skip(
            "POST /api/v1/webhooks does not exist yet, so this test cannot register a webhook"
        )
    secret = f"secret-{uuid.uuid4().hex}"
    with HookReceiver(statuses=[500]) as receiver:
        with desk.client() as admin:
            created = admin.post(
                "/webhooks",
                json={"url": receiver.url, "secret": secret, "events": ["ticket.created"]},
            )
        assert created.status_code == 201, created.text
        secret = created.json().get("secret") or secret
        request_id = f"call-{uuid.uuid4().hex}"
        ticket_id = _open(desk, _address(), "Hooked printer", request_id)
        hits = wait_for(
            lambda: [h for h in receiver.received() if h.status == 200],
            TIMEOUT,
            "the webhook's successful retry",
        )
        every = receiver.received()
    assert [h.status for h in every] == [500, 200]
    assert every[0].headers["X-Deskside-Delivery"] == hits[0].headers["X-Deskside-Delivery"]
    expected = hmac.new(secret.encode(), hits[0].body, hashlib.sha256).hexdigest()
    assert hits[0].headers["X-Deskside-Signature"] == f"sha256={expected}"
    assert hits[0].headers["X-Deskside-Event"] == "ticket.created"
    assert f'"ticket_id":{ticket_id}' in hits[0].body.decode()
    assert hits[0].headers["X-Deskside-Correlation-Id"] == request_id
    assert json.loads(hits[0].body)["correlation_id"] == request_id


def test_mailed_attachments_are_listed_and_downloaded_safely(desk: ControllerProcess) -> None:
    sender = _address()
    title = f"Error dialog {uuid.uuid4().hex[:6]}"
    message = _message(sender, title, "Screenshot and log attached.")
    log_text = b"2026-11-26 10:00 error 0x80070005\n"
    message.add_attachment(log_text, maintype="text", subtype="plain", filename="setup.log")
    page = b"<script>alert(1)</script>"
    message.add_attachment(page, maintype="text", subtype="html", filename="../../evil.html")
    _send(desk, message, sender)
    [ticket] = wait_for(lambda: _tickets_titled(desk, title), TIMEOUT, "the mailed ticket")
    with desk.client() as admin:
        listed = admin.get(f"/tickets/{ticket['id']}/attachments")
        assert listed.status_code == 200, listed.text
        files = {a["filename"]: a for a in listed.json()}
        assert set(files) == {"setup.log", "evil.html"}, "names are sanitised, no paths"
        assert files["setup.log"]["size"] == len(log_text)
        text = admin.get(f"/tickets/{ticket['id']}/attachments/{files['setup.log']['id']}")
        assert text.content == log_text and text.headers["content-type"].startswith("text/plain")
        html = admin.get(f"/tickets/{ticket['id']}/attachments/{files['evil.html']['id']}")
        assert html.content == page
        assert html.headers["content-type"] == "application/octet-stream"
        assert html.headers["content-disposition"].startswith("attachment;")
        assert html.headers["x-content-type-options"] == "nosniff"
        other = admin.get(
            f"/tickets/{ticket['id'] + 100000}/attachments/{files['setup.log']['id']}"
        )
        assert other.status_code == 404
