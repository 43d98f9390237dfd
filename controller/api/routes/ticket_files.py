"""Tickets as files: the CSV export of a selection, and the attachments mail brought.

Registered before the tickets router: /tickets/export.csv must not be read as a ticket id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict

from controller.api.deps import SessionDep
from controller.api.routes.tickets import COLUMNS, Asker, Filter
from controller.desk import attachments, queues

router = APIRouter(prefix="/tickets", tags=["tickets"])


EXPORT_LIMIT = 100_000
EXPORTCOLUMNS = ["number", *COLUMNS]


@router.get("/export.csv", response_class=StreamingResponse)
async def export(session: SessionDep, actor: Asker, f: Filter) -> StreamingResponse:
    """The tickets the same filters select, as CSV (at most 100,000, newest first)."""
    first = await queues.list_tickets(session, actor, f, limit=1000)

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORTCOLUMNS)
        page, sent = first, 0
        while True:
            for ticket in page.items:
                writer.writerow([ticket.id, *(_csv_value(getattr(ticket, c)) for c in COLUMNS)])
            sent += len(page.items)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if page.next_cursor is None or sent >= EXPORT_LIMIT:
                return
            page = await queues.list_tickets(session, actor, f, limit=1000, cursor=page.next_cursor)

    headers = {"Content-Disposition": 'attachment; filename="tickets.csv"'}
    return StreamingResponse(rows(), media_type="text/csv", headers=headers)


def _csv_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a formula someone typed
    return value


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


@router.get("/{ticket_id}/attachments")
async def list_attachments(
    ticket_id: int, session: SessionDep, actor: Asker
) -> list[AttachmentPublic]:
    found = await attachments.list_attachments(session, actor, ticket_id)
    return [AttachmentPublic.model_validate(a) for a in found]


@router.get("/{ticket_id}/attachments/{attachment_id}", response_class=Response)
async def download(
    ticket_id: int, attachment_id: int, session: SessionDep, actor: Asker
) -> Response:
    """The file as it arrived. Types a browser could run script from come as downloads."""
    found = await attachments.get_attachment(session, actor, ticket_id, attachment_id)
    inline = found.content_type in attachments.INLINE_TYPES
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    media_type = found.content_type if inline else "application/octet-stream"
    return Response(found.content, media_type=media_type, headers=headers)
