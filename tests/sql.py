"""Reach into a test database directly: to age a token, or to count rows."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement with positional $1-style ($n) parameters on SQLite or PostgreSQL."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            converted = sql
            for n in range(len(args), 0, -1):
                converted = converted.replace(f"${n}", "?")
            return list(db.execute(converted, args).fetchall())

    async def run() -> list[tuple[Any, ...]]:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(run())
