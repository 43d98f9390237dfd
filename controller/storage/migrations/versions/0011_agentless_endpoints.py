"""agentless endpoints: where and as whom to reach them over ssh or winrm

Endpoints whose transport is ssh or winrm carry their address, port and user, the host key
pinned at their explicit enrolment, their options (sudo, jump host, winrm auth and
certificate validation) and their secrets encrypted with the controller's credentials key.
All nullable: agents have none of them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("port", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("username", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("host_key", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "remote_options",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("credentials", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        for column in ("credentials", "remote_options", "host_key", "username", "port", "address"):
            batch_op.drop_column(column)
