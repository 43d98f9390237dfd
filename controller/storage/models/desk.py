"""The service desk: tickets and their timeline, categories, SLA policies and calendars,
routing rules, the knowledge base, attachments and the notification outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from controller.storage.models.base import Base
from controller.storage.types import BigId, Json, utcnow

ticket_endpoints = Table(
    "ticket_endpoints",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "endpoint_id", ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

ticket_watchers = Table(
    "ticket_watchers",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

ticket_articles = Table(
    "ticket_articles",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "article_id", ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Category(Base):
    """A node of the category tree; path is the names from the root, joined by '/'."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(500), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BusinessCalendar(Base):
    """Working hours per weekday in a time zone, and holidays (local dates, YYYY-MM-DD)."""

    __tablename__ = "business_calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"mon": [["08:00", "18:00"]], ..., "sun": []}
    hours: Mapped[dict[str, list[list[str]]]] = mapped_column(Json, default=dict)
    holidays: Mapped[list[str]] = mapped_column(Json, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SlaPolicy(Base):
    """Targets for tickets of one priority, optionally only for a site or category.

    The most specific matching policy wins (site and category, then either, then neither).
    """

    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    priority: Mapped[int]
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    own_within_s: Mapped[int]
    resolve_within_s: Mapped[int]
    # None: round the clock.
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_calendars.id", ondelete="SET NULL")
    )
    # Site time zones apply to business calendars when true (a calendar per many sites).
    use_site_timezone: Mapped[bool] = mapped_column(Boolean, default=True)
    warn_at_percent: Mapped[int] = mapped_column(default=75)
    # Any of "notify", "escalate", "raise_priority".
    breach_actions: Mapped[list[str]] = mapped_column(Json, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RoutingRule(Base):
    """Picks the team for a new ticket: the first rule (by position) whose conditions hold."""

    __tablename__ = "routing_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=100)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # A category matches its whole subtree.
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # Any one of them in the title or description (case-insensitive words).
    keywords: Mapped[list[str]] = mapped_column(Json, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Ticket(Base):
    """A recorded request or problem. Its id is its number."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue", "team_id", "state", "priority", "id"),
        Index("ix_tickets_assignee", "assignee_id", "state", "id"),
        Index("ix_tickets_resolve_due", "state", "resolve_due_at"),
        Index("ix_tickets_requester", "requester_id", "id"),
        Index("ix_tickets_state", "state", "id"),
        # The desk report's windows: tickets created, and resolved, within the last N days.
        Index("ix_tickets_created", "created_at"),
        Index("ix_tickets_resolved", "resolved_at"),
        # A team's queue page by page, open tickets only (PostgreSQL: see migration 0008).
        Index(
            "ix_tickets_open_queue",
            "team_id",
            "id",
            postgresql_where="state IN ('new', 'assigned', 'in_progress', 'pending')",
        ).ddl_if(dialect="postgresql"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who asked when they are not a user (e-mail from outside, a phone call).
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    requester_email: Mapped[str] = mapped_column(String(254), default="")
    channel: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20), default="incident")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(20), default="new")
    pending_reason: Mapped[str | None] = mapped_column(String(20))
    impact: Mapped[int] = mapped_column(default=3)
    urgency: Mapped[int] = mapped_column(default=3)
    priority: Mapped[int] = mapped_column(default=5)
    # 0: service desk (tier 1), 1: tier 2, 2: team lead or beyond.
    escalation_level: Mapped[int] = mapped_column(default=0)
    vendor_reference: Mapped[str] = mapped_column(String(200), default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL")
    )
    # SLA: due times move out while the clock is paused.
    sla_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    own_due_at: Mapped[dt.datetime | None]
    resolve_due_at: Mapped[dt.datetime | None]
    sla_paused_at: Mapped[dt.datetime | None]
    # Business seconds of finished pauses: a recomputed clock (new priority) keeps them out.
    sla_paused_s: Mapped[float] = mapped_column(default=0.0, server_default="0")
    sla_state: Mapped[str] = mapped_column(String(20), default="none")
    sla_warned_at: Mapped[dt.datetime | None]
    sla_breached_at: Mapped[dt.datetime | None]
    owned_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    follow_up_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TicketEvent(Base):
    """One entry of a ticket's timeline: comment, state, assignment, sla, notification,
    run, escalation, link, field or attachment. Internal ones are hidden from requesters."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    actor: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbArticle(Base):
    __tablename__ = "kb_articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    # Names of playbooks this article describes or that carry out its fix.
    playbooks: Mapped[list[str]] = mapped_column(Json, default=list)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(default=1)
    source_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL")
    )
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KbArticleVersion(Base):
    __tablename__ = "kb_article_versions"
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    editor: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    # HMAC-SHA256 key for the X-Deskside-Signature header.
    secret: Mapped[str] = mapped_column(String(200))
    # Event kinds, e.g. ["ticket.created", "ticket.state"]; empty: all.
    events: Mapped[list[str]] = mapped_column(Json, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """The outbox: written in the transaction of the change, delivered with retries."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | webhook
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(2000))  # an address or a webhook URL
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(300), default="")
    # The API request or check result that caused it (X-Deskside-Correlation-Id).
    correlation_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # pending | sending (claimed, with a lease) | sent | failed | skipped
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class MailThread(Base):
    """Message-IDs the desk sent or received about a ticket: replies find it by these."""

    __tablename__ = "mail_threads"
    message_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TeamRotation(Base):
    """Who in a team got the last round-robin assignment."""

    __tablename__ = "team_rotation"
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    last_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
