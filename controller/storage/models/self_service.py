"""The requesters' own: satisfaction surveys on their tickets, fixes they ran themselves."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controller.storage.models.base import Base
from controller.storage.types import utcnow


class TicketSurvey(Base):
    """The requester's satisfaction with a resolved ticket: one answer per ticket."""

    __tablename__ = "ticket_surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: the database, not a read-then-write, keeps it to one answer.
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SelfServiceRun(Base):
    """A run a requester started from the portal's allow-list: which fix, from where, for
    which ticket. The run itself (runs) stays the record of what the machine did."""

    __tablename__ = "self_service_runs"
    __table_args__ = (Index("ix_self_service_runs_user", "user_id", "created_at"),)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    fix_id: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    # The address the request came from: the evidence that it was the requester's machine.
    client_address: Mapped[str] = mapped_column(String(45))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
