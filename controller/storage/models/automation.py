"""Closing the loop: playbook runs, health checks and their results, and what holds them
back (flap control, maintenance windows, the global pause)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controller.storage.models.base import Base
from controller.storage.types import BigId, Json, utcnow


class PlaybookRun(Base):
    """One playbook on one endpoint: its inputs, each step's outcome, and how it ended."""

    __tablename__ = "playbook_runs"
    __table_args__ = (
        Index("ix_playbook_runs_endpoint", "endpoint_id", "created_at"),
        Index("ix_playbook_runs_batch", "batch_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    batch_id: Mapped[str | None] = mapped_column(String(36))
    playbook: Mapped[str] = mapped_column(String(100))
    # sha256 of the playbook's text when it ran: the library may change afterwards.
    playbook_digest: Mapped[str] = mapped_column(String(64))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id", ondelete="SET NULL"))
    inputs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # queued, running, succeeded (fixed and verified), failed, escalated, cancelled, interrupted
    state: Mapped[str] = mapped_column(String(20), default="queued")
    # [{"id", "kind", "action", "params", "run_id", "state", "ok", "skipped", "why", ...}]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(200))
    correlation_id: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class Check(Base):
    """A health check: what to look at, where, how often, and the playbook that fixes it."""

    __tablename__ = "checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # service.running, process.absent, disk.free, config.value, cert.expiry, time.offset
    check: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # warn/fail thresholds where the check measures a quantity (disk.free, cert.expiry...)
    thresholds: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # Target: explicit endpoints, a site, or tags (all of them).
    endpoint_ids: Mapped[list[str]] = mapped_column(Json, default=list)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    interval_s: Mapped[int | None]
    cron: Mapped[str | None] = mapped_column(String(100))
    playbook: Mapped[str | None] = mapped_column(String(100))
    playbook_inputs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # Flap control: at most this many fixes per endpoint within the window, then a person.
    max_fixes: Mapped[int] = mapped_column(default=3)
    fix_window_s: Mapped[int] = mapped_column(default=3600)
    cooldown_s: Mapped[int] = mapped_column(default=300)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CheckResult(Base):
    """One evaluation of a check on an endpoint, as the agent measured it."""

    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_history", "endpoint_id", "check_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10))  # ok | warn | fail | error
    value: Mapped[Any] = mapped_column(Json, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    correlation_id: Mapped[str] = mapped_column(String(200), default="")


class CheckState(Base):
    """Where the loop stands for one check on one endpoint."""

    __tablename__ = "check_states"
    check_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="ok")
    since: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_result_id: Mapped[int | None] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    playbook_run_id: Mapped[str | None] = mapped_column(String(36))
    # When the loop fixed it, newest last, trimmed to the flap window.
    fixes: Mapped[list[str]] = mapped_column(Json, default=list)
    last_fix_at: Mapped[dt.datetime | None]
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    silenced_until: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))


class MaintenanceWindow(Base):
    """While it lasts, checks, tickets and fixes are suppressed for its site or endpoint."""

    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str | None] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Switch(Base):
    """Named global switches (automation.paused), changed through the API and audited."""

    __tablename__ = "switches"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    on: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str] = mapped_column(String(200), default="")
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
