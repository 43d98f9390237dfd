"""When each check is due: every interval_s seconds or on its cron expression.

The timing is pure (a clock and a random source are passed in) so it is tested with a fake
clock; run() drives it on the agent's event loop. The first run of an interval check is
jittered, so a fleet that receives a new check does not measure at the same instant.
Cron expressions are read by croniter, imported only when a cron check exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from agent.checks.store import Definition

log = logging.getLogger(__name__)
MAX_FIRST_JITTER_S = 10.0


class Scheduler:
    def __init__(
        self,
        run_check: Callable[[Definition], Coroutine[Any, Any, None]],
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._run_check = run_check
        self._clock = clock
        self._rng = rng
        self._definitions: dict[int, Definition] = {}
        self._next: dict[int, float] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()

    @property
    def definitions(self) -> list[Definition]:
        return list(self._definitions.values())

    def _following(self, definition: Definition, now: float, first: bool) -> float:
        if definition.cron:
            from catalogue.schedule import next_cron

            return next_cron(definition.cron, now)
        interval = float(max(1, definition.interval_s))
        if first:
            return now + self._rng() * min(interval, MAX_FIRST_JITTER_S)
        return now + interval

    def replace(self, definitions: list[Definition]) -> None:
        """A new set: unchanged checks keep their timing, new or changed ones start over."""
        now = self._clock()
        wanted = {d.id: d for d in definitions}
        for check_id in list(self._definitions):
            if check_id not in wanted:
                del self._definitions[check_id]
                self._next.pop(check_id, None)
        for check_id, definition in wanted.items():
            old = self._definitions.get(check_id)
            self._definitions[check_id] = definition
            if old is None or (old.version, old.interval_s, old.cron) != (
                definition.version,
                definition.interval_s,
                definition.cron,
            ):
                try:
                    self._next[check_id] = self._following(definition, now, first=True)
                except (ValueError, KeyError) as exc:
                    log.error(
                        "check %s: bad schedule %r: %s", definition.name, definition.cron, exc
                    )
                    self._next.pop(check_id, None)
        self._changed.set()

    def next_wake(self) -> float | None:
        return min(self._next.values(), default=None)

    def due(self) -> list[Definition]:
        """The checks due now, each moved on to its next time (missed runs are not caught up)."""
        now = self._clock()
        found = []
        for check_id, at in list(self._next.items()):
            if at <= now:
                definition = self._definitions[check_id]
                found.append(definition)
                base = at if not definition.cron and now - at < definition.interval_s else now
                self._next[check_id] = max(self._following(definition, base, first=False), now)
        return found

    async def run(self) -> None:
        while True:
            self._changed.clear()
            for definition in self.due():
                self._start(definition)
            wake = self.next_wake()
            timeout = None if wake is None else max(0.0, wake - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    def _start(self, definition: Definition) -> None:
        running = self._running.get(definition.id)
        if running is not None and not running.done():
            log.info("check %s is still running; this round is skipped", definition.name)
            return
        task = asyncio.create_task(self._run_check(definition))
        self._running[definition.id] = task
        task.add_done_callback(lambda _: self._running.pop(definition.id, None))

    async def close(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
