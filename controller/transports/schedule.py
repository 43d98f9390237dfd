"""Agentless endpoints' inventory on the agents' schedule: an agent reports by itself every
inventory_interval_s; an endpoint without one is read by the controller as often."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from controller.fleet.agentless import collect
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint
from controller.transports.remote import Remote
from controller.transports.targets import ENROLLED_AGENTLESS

log = logging.getLogger(__name__)
CONCURRENCY = 16  # endpoints read at once; the ssh pool bounds its handshakes too


class RemoteInventory:
    def __init__(self, sessions: SessionFactory, remote: Remote, interval_s: float) -> None:
        self._sessions = sessions
        self._remote = remote
        self._interval_s = interval_s

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.collect_all()
            except Exception:  # a database hiccup must not stop the schedule
                log.exception("agentless inventory round failed")

    async def collect_all(self) -> int:
        """Read every agentless endpoint once; how many answered."""
        async with self._sessions() as session:
            ids = list(await session.scalars(select(Endpoint.id).where(*ENROLLED_AGENTLESS)))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(endpoint_id: str) -> bool:
            async with gate, self._sessions() as session:
                endpoint = await session.get(Endpoint, endpoint_id)
                if endpoint is None:
                    return False
                reached = await collect(session, self._remote, endpoint)
                if not reached.ok:
                    log.info("agentless %s not reached: %s", endpoint_id, reached.message)
                return reached.ok

        answered = await asyncio.gather(*(one(i) for i in ids))
        return sum(answered)
