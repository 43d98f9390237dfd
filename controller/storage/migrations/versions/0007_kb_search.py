"""knowledge base full-text search

SQLite: an FTS5 table, kb_articles_fts (title, body, tags), with kb_articles as its
external content; three triggers keep it in step with every insert, update and delete.
Tags are indexed as their stored JSON text (the tokenizer drops the brackets and quotes).

PostgreSQL: kb_articles.search_vector, a stored generated tsvector (title weight A, body B,
tags C, English configuration) with a GIN index. The column is not mapped on the model:
the database alone writes it, and controller.desk.kb reads it by name.

A later SQLite batch_alter_table on kb_articles copies the table and drops the old one,
and the triggers with it: such a migration must run SQLITE_TRIGGERS again and rebuild.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE kb_articles_fts USING fts5("
    "title, body, tags, content='kb_articles', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')"
)
_DELETE_OLD = (
    "INSERT INTO kb_articles_fts(kb_articles_fts, rowid, title, body, tags) "
    "VALUES ('delete', old.id, old.title, old.body, old.tags);"
)
_INSERT_NEW = (
    "INSERT INTO kb_articles_fts(rowid, title, body, tags) "
    "VALUES (new.id, new.title, new.body, new.tags);"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER kb_articles_fts_insert AFTER INSERT ON kb_articles BEGIN {_INSERT_NEW} END",
    f"CREATE TRIGGER kb_articles_fts_delete AFTER DELETE ON kb_articles BEGIN {_DELETE_OLD} END",
    "CREATE TRIGGER kb_articles_fts_update AFTER UPDATE OF title, body, tags ON kb_articles "
    f"BEGIN {_DELETE_OLD} {_INSERT_NEW} END",
)

POSTGRES_COLUMN = (
    "ALTER TABLE kb_articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B') || "
    "setweight(jsonb_to_tsvector('english'::regconfig, tags, '[\"string\"]'), 'C')"
    ") STORED"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_COLUMN)
        op.execute(
            "CREATE INDEX ix_kb_articles_search_vector ON kb_articles USING gin (search_vector)"
        )
        return
    op.execute(SQLITE_TABLE)
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)
    # Articles written before this revision.
    op.execute("INSERT INTO kb_articles_fts(kb_articles_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_kb_articles_search_vector")
        op.execute("ALTER TABLE kb_articles DROP COLUMN IF EXISTS search_vector")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS kb_articles_fts_{name}")
    op.execute("DROP TABLE IF EXISTS kb_articles_fts")
