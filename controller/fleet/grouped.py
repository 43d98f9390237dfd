"""Durable agent messages stored in groups, each exactly once.

Each message is applied in the transaction that takes its sequence number (sequence.take),
so a resend is never applied twice. Messages that arrive together (a fan-out's results,
many endpoints' check results) share one transaction: on SQLite every extra writer would
wait out the busy handler's sleeps, and on PostgreSQL every commit is a disk flush. One bad
message fails alone, and a later message of the same endpoint never overtakes a failed one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from controller.storage.db import SessionFactory

MAX_GROUP = 500


class FromEndpoint(Protocol):
    @property
    def endpoint_id(self) -> str: ...


M = TypeVar("M", bound=FromEndpoint)
R = TypeVar("R")


class GroupWriter(Generic[M, R]):
    """Queue messages with store(); one loop applies whatever has gathered in one
    transaction. The loop starts on the first store() unless run() already runs (and again
    if it ever died)."""

    def __init__(
        self, sessions: SessionFactory, apply: Callable[[AsyncSession, M], Awaitable[R]]
    ) -> None:
        self._sessions = sessions
        self._apply = apply
        self._waiting: list[tuple[M, asyncio.Future[R]]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def store(self, message: M) -> R:
        """What apply() returned, once committed.

        Raises what the database raised: the agent then gets no ack and sends it again.
        """
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        self._arrived.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run())
        return await future

    async def run(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.current_task()
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                await self._write(group)

    async def _write(self, group: list[tuple[M, asyncio.Future[R]]]) -> None:
        try:
            async with self._sessions() as session:
                outcomes = [await self._apply(session, message) for message, _ in group]
                await session.commit()
        except Exception as exc:
            if len(group) == 1:
                _fail(group, exc)
            else:  # one bad message must not hold back the others
                await self._write_one_by_one(group)
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _write_one_by_one(self, group: list[tuple[M, asyncio.Future[R]]]) -> None:
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


def _fail(group: list[tuple[M, asyncio.Future[R]]], exc: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
