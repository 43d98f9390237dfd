"""ticket report indexes: tickets by creation and by resolution time

GET /reports/desk counts the tickets created and resolved in a window of days; without these
it reads the whole tickets table each time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_created", "tickets", ["created_at"])
    op.create_index("ix_tickets_resolved", "tickets", ["resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_resolved", table_name="tickets")
    op.drop_index("ix_tickets_created", table_name="tickets")
