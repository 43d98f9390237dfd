"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database dropped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_DSN = os.environ.get("DESKSIDE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _pg_base() -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0]


async def _pg_execute(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_unavailable() -> str | None:
    try:
        asyncio.run(_pg_execute("SELECT 1"))
    except (OSError, ImportError) as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}"
    except Exception as exc:  # asyncpg's own errors: auth, missing database
        return f"PostgreSQL refused the connection at {PG_ADMIN_DSN}: {exc}"
    return None


def require_or_skip(reason: str | None) -> None:
    """Locally a missing component skips; under CI=true it fails, since CI installs it."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and a test component is missing: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A database URL nobody else uses; PostgreSQL ones are dropped on exit."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'deskside.db'}"
        return
    require_or_skip(postgres_unavailable())
    name = f"ds_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{_pg_base()}/{name}"
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
