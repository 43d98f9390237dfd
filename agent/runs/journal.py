"""Every run ID the agent ever received, written before the run starts.

A run delivered again (the controller resent it after a lost link) finds its ID here
and is not executed a second time. A run found unfinished at start was cut off by a
crash or a kill: it is reported as interrupted, never re-run.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    finished_at REAL
);
"""
# Finished IDs older than this are forgotten: the controller never resends a run that
# far back (its runs expire within a day by default).
KEEP_S = 30 * 86400


class Journal:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.execute("DELETE FROM runs WHERE finished_at < ?", (time.time() - KEEP_S,))

    def receive(self, run_id: str) -> bool:
        """Record run_id; False when it was received before (do not run it again)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO runs(run_id, received_at) VALUES(?, ?)", (run_id, time.time())
        )
        return cursor.rowcount == 1

    def finish(self, run_id: str) -> None:
        self._db.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", (time.time(), run_id))

    def unfinished(self) -> list[str]:
        rows = self._db.execute(
            "SELECT run_id FROM runs WHERE finished_at IS NULL ORDER BY received_at"
        )
        return [r[0] for r in rows]

    def close(self) -> None:
        self._db.close()
