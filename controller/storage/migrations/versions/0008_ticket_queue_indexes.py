"""ticket queues: a partial index of the open tickets by team, newest first (PostgreSQL)

A team's queue is `state IN (open states) AND team_id = ? ORDER BY id DESC LIMIT n`
(controller.desk.queues.team_queue). ix_tickets_queue (team_id, state, priority, id) finds
those rows but not in id order, so PostgreSQL either sorts all of the team's open tickets
or walks pk_tickets newest first and throws away every closed ticket and every other team's:
at 1,000,000 tickets, 129,677 rows thrown away for one page of a small team's queue, 21 ms
(bench/desk_queues_pg.py). ix_tickets_open_queue holds only the open tickets, by
(team_id, id): every page of every team's queue reads just the rows it returns (0.06 ms),
and the index is the size of the backlog, not of the history (1.5 MiB there).

PostgreSQL uses it for a plan made with the values (a custom plan). The API's statements are
prepared and also bind LIMIT, which keeps PostgreSQL on custom plans for them (the bench
checks the prepared statements too); a generic plan could not use this index, since the
states would be parameters there.

PostgreSQL only. SQLite uses a partial index only when the query repeats the index's WHERE
term for term, and the API binds the states as parameters, so SQLite would never use it;
without the WHERE it would be a (team_id, id) index, which trades SQLite's present plan
(ix_tickets_queue, then a sort of the team's open tickets) for a walk through the team's
whole history when its open tickets are old. The states are written out, not imported:
a migration must not change when controller.desk.lifecycle.OPEN_STATES does.

A plain CREATE INDEX, in the migration's transaction: writes to tickets wait while it
reads the table once to build it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN = "state IN ('new', 'assigned', 'in_progress', 'pending')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_open_queue",
            ["team_id", "id"],
            unique=False,
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_open_queue")
