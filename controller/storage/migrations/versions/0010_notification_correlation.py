"""notifications carry the correlation ID of what caused them

An e-mail or webhook call about a ticket now names the API request or the check result that
caused it (X-Deskside-Correlation-Id), so a receiver can follow a fault from the check result
through the ticket and its runs to the message in hand. Rows queued before have none ('').

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("correlation_id", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("correlation_id")
