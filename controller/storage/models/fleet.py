"""The fleet: endpoints, their tags, enrolment tokens and inventory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.storage.models.access import Site
from controller.storage.models.base import Base
from controller.storage.types import BigId, Json, utcnow


class EnrollmentToken(Base):
    __tablename__ = "enrollment_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    endpoint_id: Mapped[str | None] = mapped_column(String(36))
    site: Mapped[Site | None] = relationship(lazy="joined")


class Endpoint(Base):
    __tablename__ = "endpoints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    transport: Mapped[str] = mapped_column(String(10), default="agent")
    os_name: Mapped[str] = mapped_column(String(200), default="")
    os_family: Mapped[str] = mapped_column(String(20), default="", index=True)
    agent_version: Mapped[str] = mapped_column(String(50), default="")
    enrolled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime | None]
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    cert_serial: Mapped[str] = mapped_column(String(64), default="")
    cert_not_after: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    # Highest durable message sequence stored, and the one the inventory is at.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    inventory_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The agent's local policy as it reported it at its last connect.
    agent_policy: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # Agentless endpoints (transport ssh or winrm): where and as whom to connect, the host
    # key pinned at enrolment, options (sudo, jump host, winrm auth), and the secrets,
    # encrypted (controller/transports/credentials.py). Null for agents.
    address: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None]
    username: Mapped[str | None] = mapped_column(String(255))
    host_key: Mapped[str | None] = mapped_column(Text)
    remote_options: Mapped[dict[str, Any] | None] = mapped_column(Json)
    credentials: Mapped[str | None] = mapped_column(Text)
    site: Mapped[Site | None] = relationship(lazy="joined")
    tags: Mapped[list[EndpointTag]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="EndpointTag.tag"
    )


class EndpointTag(Base):
    __tablename__ = "endpoint_tags"
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class Inventory(Base):
    """The latest full inventory of an endpoint, merged from the deltas received."""

    __tablename__ = "inventories"
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    collected_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]]


class InventoryChange(Base):
    """One received inventory message: the sections it replaced (all of them when full)."""

    __tablename__ = "inventory_changes"
    __table_args__ = (
        Index("ix_inventory_changes_endpoint", "endpoint_id", "id"),
        UniqueConstraint("endpoint_id", "seq"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    full: Mapped[bool] = mapped_column(Boolean)
    collected_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sections: Mapped[dict[str, Any]]
    removed: Mapped[list[str]] = mapped_column(Json, default=list)
