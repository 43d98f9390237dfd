"""Files that came with a ticket's mail: listed with the ticket, fetched one at a time."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from controller.access.actor import Actor
from controller.desk.visibility import get_visible
from controller.errors import NotFound
from controller.storage.models import Attachment

# Shown inline by a browser only when the type cannot carry script; anything else is a
# download (the API also sends nosniff).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"})


async def list_attachments(session: AsyncSession, actor: Actor, ticket_id: int) -> list[Attachment]:
    """The ticket's attachments without their content, oldest first."""
    ticket = await get_visible(session, actor, ticket_id)
    query = (
        select(Attachment)
        .where(Attachment.ticket_id == ticket.id)
        .options(defer(Attachment.content))
        .order_by(Attachment.id)
    )
    return list(await session.scalars(query))


async def get_attachment(
    session: AsyncSession, actor: Actor, ticket_id: int, attachment_id: int
) -> Attachment:
    ticket = await get_visible(session, actor, ticket_id)
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket.id:
        raise NotFound("attachment", attachment_id)
    return attachment
