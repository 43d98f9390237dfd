"""Health checks on agentless endpoints: the controller measures what an agent would.

An agent runs its check set on its own schedule; an endpoint without one has its checks run
by the controller, with the same plan (the catalogue action a check kind runs), the same
evaluators (catalogue/checks.py) and the same storage, so states, history, the loop's tickets
and fixes do not know the difference. The results are measured here, not spooled by an
agent: they carry no sequence number (0) and are stored once as they are measured.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from catalogue import CatalogueError, validate
from catalogue import checks as catalogue_checks
from catalogue.schedule import next_cron
from controller.checks.results import Change, Measured
from controller.checks.targets import CheckOrder, orders_for
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint
from controller.transports.remote import Remote
from controller.transports.targets import ENROLLED_AGENTLESS

log = logging.getLogger(__name__)
TICK_S = 1.0
RELOAD_S = 10.0  # check sets and endpoints are re-read this often
CHECK_TIMEOUT_S = 60.0  # as on the agent
MAX_FIRST_JITTER_S = 10.0  # as on the agent: a new check does not fire fleet-wide at once
# Refusals that say nothing about the machine's health: the check could not be made.
NOT_MEASURED = frozenset({"invalid_params", "not_supported", "timeout", "unreachable"})
Store = Callable[[Measured], Awaitable[Change | None]]


class RemoteChecks:
    def __init__(
        self,
        sessions: SessionFactory,
        remote: Remote,
        store: Store,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._remote = remote
        self._store = store
        self._clock = clock
        self._endpoints: dict[str, Endpoint] = {}
        self._orders: dict[tuple[str, int], CheckOrder] = {}
        self._due: dict[tuple[str, int], float] = {}
        self._running: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._loaded_at = float("-inf")

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a database hiccup must not stop the schedule
                log.exception("agentless checks round failed")
            await asyncio.sleep(TICK_S)

    async def tick(self) -> int:
        """Start the checks that are due; how many were started."""
        now = self._clock()
        if now - self._loaded_at >= RELOAD_S:
            await self.reload()
        started = 0
        for key, order in self._orders.items():
            if self._due.get(key, float("inf")) > now or key in self._running:
                continue
            self._due[key] = self._following(order, now, first=False)
            self._running[key] = asyncio.create_task(self._measure(key, order))
            started += 1
        return started

    async def reload(self) -> None:
        """The agentless endpoints and their check sets; unchanged checks keep their timing."""
        async with self._sessions() as session:
            found = await session.scalars(select(Endpoint).where(*ENROLLED_AGENTLESS))
            self._endpoints = {e.id: e for e in found}
            sets = await orders_for(session, list(self._endpoints))
        now = self._clock()
        orders = {(e, o.id): o for e, listed in sets.items() for o in listed}
        for key, order in orders.items():
            if self._orders.get(key) != order:
                self._due[key] = self._following(order, now, first=True)
        for key in set(self._due) - set(orders):
            del self._due[key]
        self._orders = orders
        self._loaded_at = now

    def _following(self, order: CheckOrder, now: float, first: bool) -> float:
        if order.cron:
            return next_cron(order.cron, now)
        interval = float(max(1, order.interval_s))
        if first:
            return now + random.random() * min(interval, MAX_FIRST_JITTER_S)
        return now + interval

    async def _measure(self, key: tuple[str, int], order: CheckOrder) -> None:
        try:
            await self._measure_and_store(key[0], order)
        finally:
            self._running.pop(key, None)

    async def _measure_and_store(self, endpoint_id: str, order: CheckOrder) -> None:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None:
            return
        try:
            judged, evidence = await self._judge(endpoint, order)
        except Exception as exc:  # a check's bug must not stop the others
            log.exception("check %s on %s crashed", order.name, endpoint_id)
            judged = catalogue_checks.Evaluation("error", None, f"{type(exc).__name__}: {exc}")
            evidence = {}
        measured = Measured(
            endpoint_id=endpoint_id,
            seq=0,  # measured here: nothing to deduplicate
            check_id=order.id,
            version=order.version,
            status=judged.status,
            value=judged.value,
            message=judged.message[:4000],
            evidence=evidence,
            at=dt.datetime.now(dt.UTC),
        )
        try:
            await self._store(measured)
        except Exception:
            log.exception("storing check %s on %s failed", order.name, endpoint_id)

    async def _judge(
        self, endpoint: Endpoint, order: CheckOrder
    ) -> tuple[catalogue_checks.Evaluation, dict[str, Any]]:
        try:
            params, thresholds = catalogue_checks.validate_check(
                order.check, order.params, order.thresholds
            )
            action, action_params = catalogue_checks.plan(order.check, params)
            validated = validate(action, action_params)
        except CatalogueError as exc:
            return catalogue_checks.Evaluation("error", None, str(exc)), {}
        transport = self._remote.transport(endpoint.transport)
        result = await transport.run_action(
            self._remote.target(endpoint),
            action,
            validated,
            dry_run=False,
            timeout_s=CHECK_TIMEOUT_S,
        )
        evidence = catalogue_checks.evidence(action, action_params, result)
        if result.error is not None and result.error.code in NOT_MEASURED:
            message = f"{result.error.code}: {result.error.message}"
            return catalogue_checks.Evaluation("error", None, message), evidence
        return catalogue_checks.evaluate(order.check, result, params, thresholds), evidence
