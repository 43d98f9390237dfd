"""The e-mail intake's SMTP listener (DESKSIDE_SMTP_LISTEN), on the controller's loop.

A thin edge: aiosmtpd speaks SMTP and hands each message to controller.desk.mail_in.
Messages over mail_max_bytes are refused with 552 (SIZE is advertised, so most clients
never send them). A message the desk could not take now gets 451, so the sending server
keeps it and tries again; one it took, or knowingly ignored, gets 250.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, Envelope, Session

from controller.container import Controller
from controller.desk.mail_in import Intake
from controller.errors import ConfigError, InvalidInput
from controller.settings import split_listen

log = logging.getLogger(__name__)
IDLE_TIMEOUT_S = 300.0


class _Handler:
    def __init__(self, intake: Intake, on_change: Callable[[], None]) -> None:
        self._intake = intake
        self._on_change = on_change

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # aiosmtpd keeps a bounce's null sender as "<>"; the intake knows it as "".
        sender = "" if envelope.mail_from in ("<>", "") else envelope.mail_from
        try:
            outcome = await self._intake.receive(raw, envelope_from=sender)
        except InvalidInput as exc:  # a bounce tells the sender; retrying cannot help
            if exc.field == "message":
                return f"552 5.3.4 the message is {exc.reason}"
            return f"554 5.6.0 {exc}"
        except Exception:
            log.exception("e-mail intake failed on a message from %s", envelope.mail_from)
            return "451 4.3.0 the help desk could not take the message now; try again later"
        self._on_change()
        ticket = f" ticket {outcome.ticket_id}" if outcome.ticket_id is not None else ""
        return f"250 2.0.0 {outcome.action}{ticket}"


@dataclass(frozen=True)
class MailServer:
    server: asyncio.Server
    address: str

    def close(self) -> None:
        self.server.close()


async def start_mail_server(
    controller: Controller, on_change: Callable[[], None] = lambda: None
) -> MailServer:
    """Listen on DESKSIDE_SMTP_LISTEN (port 0 picks one: see .address)."""
    settings = controller.settings
    assert settings.smtp_listen is not None
    intake = Intake(
        controller.engine,
        attachment_max_bytes=settings.attachment_max_bytes,
        mail_max_bytes=settings.mail_max_bytes,
        mail_from=settings.mail_from,
    )
    handler = _Handler(intake, on_change)
    if not log.isEnabledFor(logging.DEBUG):  # aiosmtpd logs each SMTP command at INFO
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    hostname = socket.gethostname()  # not getfqdn(): no DNS lookup at start

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=settings.mail_max_bytes,
            enable_SMTPUTF8=True,
            hostname=hostname,
            ident="deskside",
            timeout=IDLE_TIMEOUT_S,
            loop=loop,
        )

    host, port = split_listen(settings.smtp_listen)
    try:
        server = await loop.create_server(protocol, host, port, reuse_address=True)
    except OSError as exc:
        raise ConfigError(
            f"DESKSIDE_SMTP_LISTEN: cannot listen on {settings.smtp_listen}: {exc.strerror or exc}"
        ) from None
    bound = server.sockets[0].getsockname()[1]
    address = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
    log.info("e-mail intake listening on %s", address)
    return MailServer(server, address)
