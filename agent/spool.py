"""The agent's outbox on disk: durable messages kept in order until acknowledged.

Every durable message gets the next sequence number and is written here before it is
sent, so what the controller could not hear survives a lost link or an agent restart.
The spool is bounded: past max_bytes the oldest messages are dropped (and counted);
an inventory delta that lost its base is answered by the controller with a request
for a full snapshot, so dropping never leaves a wrong inventory behind.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Spool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._max_bytes = max_bytes
        self._bytes = self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
        ).fetchone()[0]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing, even across a crash: the connection runs in autocommit mode."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def last_seq(self) -> int:
        """The highest sequence number ever given out."""
        return self._meta("last_seq")

    @property
    def last_acked(self) -> int:
        return self._meta("last_acked")

    @property
    def dropped(self) -> int:
        return self._meta("dropped")

    @property
    def pending_bytes(self) -> int:
        return int(self._bytes)

    def append(self, payload: bytes) -> int:
        with self._transaction():
            seq = self.last_seq + 1
            self._db.execute("INSERT INTO outbox(seq, payload) VALUES(?, ?)", (seq, payload))
            self._set_meta("last_seq", seq)
        self._bytes += len(payload)
        self._trim()
        return seq

    def _trim(self) -> None:
        while self._bytes > self._max_bytes:
            row = self._db.execute(
                "SELECT seq, LENGTH(payload) FROM outbox ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None or row[0] == self.last_seq:
                return  # never drop the newest message
            with self._transaction():
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (row[0],))
                self._set_meta("dropped", self.dropped + 1)
            self._bytes -= row[1]

    def pending(self, after: int = 0, limit: int = 256) -> list[tuple[int, bytes]]:
        """Up to limit unacknowledged messages with seq > after, oldest first.

        Read whole, not as a cursor: a statement left open across the sender's awaits
        would pin an old snapshot, and this connection's next write would then fail at
        once with SQLITE_BUSY as soon as another connection (the run journal) commits.
        """
        cursor = self._db.execute(
            "SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (max(after, self.last_acked), limit),
        )
        return [(int(seq), bytes(payload)) for seq, payload in cursor.fetchall()]

    def ack(self, seq: int) -> None:
        """The controller stored everything up to seq."""
        if seq <= self.last_acked:
            return
        with self._transaction():
            freed = self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE seq <= ?", (seq,)
            ).fetchone()[0]
            self._db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
            self._set_meta("last_acked", seq)
            self._bytes -= freed

    def continue_after(self, controller_seq: int) -> None:
        """Reconcile with the controller's last stored sequence number at connect.

        If the controller has stored more than this spool ever numbered, the agent's
        state was lost (a wiped state directory): renumber what is pending after the
        controller's number, or the controller would take it for duplicates.
        """
        if controller_seq <= self.last_seq:
            self.ack(controller_seq)
            return
        with self._transaction():
            rows = self._db.execute("SELECT seq FROM outbox ORDER BY seq").fetchall()
            offset = controller_seq
            for new_seq, (old_seq,) in enumerate(rows, start=offset + 1):
                self._db.execute("UPDATE outbox SET seq = ? WHERE seq = ?", (-new_seq, old_seq))
            self._db.execute("UPDATE outbox SET seq = -seq")
            self._set_meta("last_seq", offset + len(rows))
            self._set_meta("last_acked", offset)

    def close(self) -> None:
        self._db.close()
