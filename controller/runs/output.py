"""Live output of runs: the chunks agents send while an action works, for SSE readers.

In memory and best effort. Only the controller process an agent is connected to sees
its chunks, and a chunk lost on the way is not resent; every reader still gets the
whole (bounded) output with the run's result. Memory stays bounded: per run the newest
MAX_OUTPUT bytes (older chunks are dropped, their offsets tell readers about the gap),
at most MAX_RUNS runs (the least recently active are forgotten first), and a run with
no new output for IDLE_S is forgotten, which is also how ended runs go.

An agent may only write output for its own endpoint's runs. The first chunk of a run
costs one database lookup of the run's endpoint; the answer is kept with the run's
buffer, so later chunks are checked in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select

from catalogue.result import MAX_OUTPUT
from controller.storage.db import SessionFactory
from controller.storage.models import Run

log = logging.getLogger(__name__)
IDLE_S = 180.0
MAX_RUNS = 512
# The endpoint a run belongs to, or None for a run that does not exist.
OwnerOf = Callable[[str], Awaitable[str | None]]


def run_owner(sessions: SessionFactory) -> OwnerOf:
    async def owner_of(run_id: str) -> str | None:
        async with sessions() as session:
            owner: str | None = await session.scalar(
                select(Run.endpoint_id).where(Run.id == run_id)
            )
            return owner

    return owner_of


@dataclass(frozen=True)
class Chunk:
    offset: int  # UTF-8 bytes of the run's output before this chunk
    text: str
    size: int  # this chunk's length in bytes


class _Buffer:
    def __init__(self, owner: str | None, now: float) -> None:
        self.owner = owner
        self.chunks: deque[Chunk] = deque()
        self.size = 0
        self.end = 0  # the offset just past the newest chunk
        self.touched = now


class OutputHub:
    def __init__(
        self,
        owner_of: OwnerOf,
        *,
        max_bytes: int = MAX_OUTPUT,
        max_runs: int = MAX_RUNS,
        idle_s: float = IDLE_S,
    ) -> None:
        self._owner_of = owner_of
        self._max_bytes = max_bytes
        self._max_runs = max_runs
        self._idle_s = idle_s
        # Least recently active first: forgetting pops from the front.
        self._runs: OrderedDict[str, _Buffer] = OrderedDict()
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._timer: asyncio.TimerHandle | None = None

    async def accept(self, endpoint_id: str, run_id: str, offset: int, chunk: bytes) -> bool:
        """Keep a chunk from the agent of endpoint_id. False when refused: not that
        endpoint's run, older than what the run already has, or larger than the buffer."""
        buffer = self._runs.get(run_id)
        if buffer is None:
            owner = await self._owner_of(run_id)
            buffer = self._runs.get(run_id) or self._open(run_id, owner)
            if owner != endpoint_id:
                log.warning("endpoint %s sent output for run %s, not its own", endpoint_id, run_id)
        if buffer.owner != endpoint_id or offset < buffer.end or len(chunk) > self._max_bytes:
            return False
        buffer.chunks.append(Chunk(offset, chunk.decode(errors="replace"), len(chunk)))
        buffer.size += len(chunk)
        buffer.end = offset + len(chunk)
        while buffer.size > self._max_bytes:
            buffer.size -= buffer.chunks.popleft().size
        buffer.touched = asyncio.get_running_loop().time()
        self._runs.move_to_end(run_id)
        for event in self._waiters.get(run_id, ()):
            event.set()
        return True

    def since(self, run_id: str, offset: int) -> list[Chunk]:
        """The buffered chunks of a run from offset on, oldest first."""
        buffer = self._runs.get(run_id)
        fresh: list[Chunk] = []
        for chunk in reversed(buffer.chunks if buffer is not None else ()):
            if chunk.offset < offset:
                break
            fresh.append(chunk)
        fresh.reverse()
        return fresh

    @contextlib.contextmanager
    def subscribe(self, run_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the run gets output; the reader clears it before reading."""
        event = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters[run_id]
            waiters.discard(event)
            if not waiters:
                del self._waiters[run_id]

    def _open(self, run_id: str, owner: str | None) -> _Buffer:
        buffer = self._runs[run_id] = _Buffer(owner, asyncio.get_running_loop().time())
        self._forget_old()
        return buffer

    def _forget_old(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = asyncio.get_running_loop().time()
        while self._runs:
            run_id, oldest = next(iter(self._runs.items()))
            if len(self._runs) <= self._max_runs and now - oldest.touched < self._idle_s:
                break
            del self._runs[run_id]
        if self._runs:
            # The oldest's deadline; if it was active meanwhile, the next one's is checked.
            deadline = next(iter(self._runs.values())).touched + self._idle_s
            self._timer = asyncio.get_running_loop().call_at(deadline, self._forget_old)
