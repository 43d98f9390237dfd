"""self-service: satisfaction surveys on tickets, fixes requesters run on their own machine

ticket_surveys holds at most one answer per ticket (a unique ticket_id, so two answers sent
at once cannot both be kept). self_service_runs says which allow-listed fix a requester ran,
from which address and for which ticket; the run itself stays in runs.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controller.storage.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_surveys_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ticket_surveys_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_surveys")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_ticket_surveys_ticket_id")),
    )
    op.create_table(
        "self_service_runs",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("fix_id", sa.String(length=50), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("client_address", sa.String(length=45), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_self_service_runs_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_self_service_runs_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoints.id"],
            name=op.f("fk_self_service_runs_endpoint_id_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_self_service_runs_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_self_service_runs")),
    )
    with op.batch_alter_table("self_service_runs", schema=None) as batch_op:
        batch_op.create_index("ix_self_service_runs_user", ["user_id", "created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_self_service_runs_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("self_service_runs")
    op.drop_table("ticket_surveys")
