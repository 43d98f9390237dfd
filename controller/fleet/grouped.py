"""Durable agent messages stored in groups, each exactly once.

Each message is applied in the transaction that takes its sequence number (sequence.py), so a
resend is never applied twice. Messages that arrive together (a fan-out's results,
many endpoints' check results) share one transaction: on SQLite every extra writer would
wait out the busy handler's sleeps, and on PostgreSQL every commit is a disk flush. One bad
message fails alone, and a later message of the same endpoint never overtakes a failed one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from controller.storage.db import SessionFactory

MAX_GROUP = 500


class FromEndpoint(Protocol):
    @property
    def endpoint_id(self) -> str: ...

    @property
    def seq(self) -> int: ...


class EarlierFailed(Exception):
    """Not stored: an earlier message of the same endpoint failed, and storing this one
    would make that one's resend look like a duplicate."""


M = TypeVar("M", bound=FromEndpoint)
R = TypeVar("R")


def one_by_one(
    apply: Callable[[AsyncSession, M], Awaitable[R]],
) -> Callable[[AsyncSession, Sequence[M]], Awaitable[list[R]]]:
    """A group's apply from one message's: each in turn, in the group's transaction."""

    async def each(session: AsyncSession, group: Sequence[M]) -> list[R]:
        return [await apply(session, message) for message in group]

    return each


class GroupWriter(Generic[M, R]):
    """Queue messages with store(); one loop applies whatever has gathered in one
    transaction (apply takes the group and answers an outcome for each, in order). The
    loop starts on the first store() unless run() already runs (and again if it ever
    died)."""

    def __init__(
        self,
        sessions: SessionFactory,
        apply: Callable[[AsyncSession, Sequence[M]], Awaitable[list[R]]],
    ) -> None:
        self._sessions = sessions
        self._apply = apply
        self._waiting: list[tuple[M, asyncio.Future[R]]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # endpoint -> the seq that failed: its later messages fail until it is resent.
        self._failed: dict[str, int] = {}

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
                if group := self._screen(group):
                    await self._write(group)

    def forgive(self, endpoint_id: str) -> None:
        """The endpoint's stream has ended and its messages have settled: its next stream
        starts afresh (the failed message may have been dropped from its spool)."""
        self._failed.pop(endpoint_id, None)

    def _screen(
        self, group: list[tuple[M, asyncio.Future[R]]]
    ) -> list[tuple[M, asyncio.Future[R]]]:
        """The group without the messages that follow a failed one of their endpoint (they
        fail); a resend of the failed one lifts the bar."""
        kept = []
        for one in group:
            message = one[0]
            failed = self._failed.get(message.endpoint_id)
            if failed is not None and message.seq > failed:
                _fail([one], EarlierFailed(f"{message.endpoint_id}: seq {failed} failed first"))
                continue
            if failed is not None:
                del self._failed[message.endpoint_id]
            kept.append(one)
        return kept

    async def _write(self, group: list[tuple[M, asyncio.Future[R]]]) -> None:
        try:
            async with self._sessions() as session:
                outcomes = await self._apply(session, [message for message, _ in group])
                await session.commit()
        except Exception as exc:
            if len(group) > 1:  # one bad message must not hold back the others
                for one in group:
                    if alone := self._screen([one]):
                        await self._write(alone)
                return
            message = group[0][0]
            self._failed[message.endpoint_id] = message.seq
            _fail(group, exc)
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)


def _fail(group: list[tuple[M, asyncio.Future[R]]], exc: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
