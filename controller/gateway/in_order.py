"""One stream's check results: stored concurrently, acknowledged in order.

Reading a stream's next result only once the last one is stored would cap every agent at
one result per group commit, and a backlog after an outage would drain at that pace. Acks
are cumulative ("stored up to seq"), so each goes out only once every earlier result of the
stream is stored. The first failure ends the stream: the agent resends from there, and the
group writer fails that endpoint's later results until it does (controller/fleet/grouped.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

MAX_IN_FLIGHT = 64  # results of one stream being stored at once


class InOrderAcks:
    def __init__(self, send_ack: Callable[[int], None]) -> None:
        self._send_ack = send_ack
        self._queue: asyncio.Queue[tuple[int, asyncio.Task[Any]]] = asyncio.Queue(MAX_IN_FLIGHT)
        self._current: asyncio.Task[Any] | None = None

    async def add(self, seq: int, storing: Coroutine[Any, Any, Any]) -> None:
        """Start storing message seq; waits while MAX_IN_FLIGHT are being stored."""
        await self._queue.put((seq, asyncio.create_task(storing)))

    async def drain(self) -> None:
        """Until everything added is stored and acknowledged (before a message that another
        writer stores, so sequence numbers are taken in order)."""
        await self._queue.join()

    async def run(self) -> None:
        """Acknowledge each message once stored, in order. Raises the first failure."""
        while True:
            seq, self._current = await self._queue.get()
            # Shielded: the stream ending must not cancel a store already queued.
            await asyncio.shield(self._current)
            self._current = None
            self._send_ack(seq)
            self._queue.task_done()

    async def settle(self) -> None:
        """Once the stream has ended: wait out the stores still under way, unacknowledged."""
        storing = [] if self._current is None else [self._current]
        while not self._queue.empty():
            storing.append(self._queue.get_nowait()[1])
        await asyncio.gather(*storing, return_exceptions=True)
