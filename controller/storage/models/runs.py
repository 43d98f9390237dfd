"""Runs: one execution of one action on one endpoint, from request to evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.storage.models.base import Base
from controller.storage.types import Json, utcnow


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_endpoint_state", "endpoint_id", "state"),
        Index("ix_runs_batch", "batch_id"),
        Index("ix_runs_created", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    batch_id: Mapped[str | None] = mapped_column(String(36))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]]
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    risk: Mapped[str] = mapped_column(String(10))
    # queued, sent, running, succeeded, failed, cancelled, expired, interrupted
    state: Mapped[str] = mapped_column(String(20), default="queued")
    # none, pending, approved, denied
    approval: Mapped[str] = mapped_column(String(10), default="none")
    approved_by: Mapped[str | None] = mapped_column(String(200))
    # Asked for while the agent could not hear it: sent when it reconnects.
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by_user_id: Mapped[int | None]
    requested_by: Mapped[str] = mapped_column(String(200))
    ticket_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(500), default="")
    request_id: Mapped[str] = mapped_column(String(200), default="")
    timeout_s: Mapped[int] = mapped_column(default=300)
    expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
