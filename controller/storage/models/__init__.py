"""The controller's tables. Every change goes through an Alembic migration."""

from controller.storage.models.access import (
    ApiToken,
    AuditEvent,
    ConsoleSession,
    Site,
    Team,
    User,
    team_members,
    user_sites,
)
from controller.storage.models.base import Base
from controller.storage.models.fleet import (
    Endpoint,
    EndpointTag,
    EnrollmentToken,
    Inventory,
    InventoryChange,
)
from controller.storage.models.runs import Run

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "ConsoleSession",
    "Endpoint",
    "EndpointTag",
    "EnrollmentToken",
    "Inventory",
    "InventoryChange",
    "Run",
    "Site",
    "Team",
    "User",
    "team_members",
    "user_sites",
]
