"""Check results stored exactly once and in groups.

Each result is stored in the transaction that takes its sequence number, so a resend is
never stored twice. Results that arrive together (from many endpoints at once) share one
transaction: on SQLite every extra writer would wait out the busy handler's sleeps, and on
PostgreSQL every commit is a disk flush. The pattern of controller/runs/updates.py.
"""

from __future__ import annotations

import asyncio
import logging

from controller.checks.results import Change, Measured, apply_result
from controller.storage.db import SessionFactory

log = logging.getLogger(__name__)
MAX_GROUP = 500
Waiting = tuple[Measured, "asyncio.Future[Change | None]"]


class CheckResults:
    """Queue results with store(); run() writes whatever has gathered in one transaction.

    run() starts on the first store() when nobody started it (and again if it ever died).
    """

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._waiting: list[Waiting] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def store(self, measured: Measured) -> Change | None:
        """The Change once stored (None: the status did not move, a resend, a deleted check).

        Raises what the database raised: the agent then gets no ack and sends it again.
        """
        future: asyncio.Future[Change | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((measured, future))
        self._arrived.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run())
        return await future

    async def run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                await self._write(group)

    async def _write(self, group: list[Waiting]) -> None:
        try:
            async with self._sessions() as session:
                changes = [await apply_result(session, measured) for measured, _ in group]
                await session.commit()
        except Exception as exc:
            if len(group) == 1:
                _fail(group, exc)
            else:  # one bad result must not hold back the others
                await self._write_one_by_one(group)
            return
        for (_, future), change in zip(group, changes, strict=True):
            if not future.done():
                future.set_result(change)

    async def _write_one_by_one(self, group: list[Waiting]) -> None:
        failed: dict[str, BaseException] = {}
        for one in group:
            endpoint_id = one[0].endpoint_id
            if endpoint_id in failed:
                # Storing a later seq would make the failed one look like a resend.
                _fail([one], failed[endpoint_id])
                continue
            await self._write([one])
            future = one[1]
            exc = future.exception() if future.done() and not future.cancelled() else None
            if exc is not None:
                failed[endpoint_id] = exc


def _fail(group: list[Waiting], exc: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
