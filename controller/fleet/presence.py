"""Who is connected, and when each endpoint was last heard from.

Heartbeats arrive every few seconds from every agent; writing each one would make the
database the bottleneck, so last-seen times are kept in memory and written in one batch
per flush interval. Connects and disconnects are written at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Protocol

from sqlalchemy import update

from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint
from controller.storage.types import utcnow

log = logging.getLogger(__name__)


class Connection(Protocol):
    """A live agent connection, as the gateway provides it."""

    def close(self, reason: str) -> None: ...


class Presence:
    def __init__(self, sessions: SessionFactory, flush_interval_s: float) -> None:
        self._sessions = sessions
        self._flush_interval_s = flush_interval_s
        self._seen: dict[str, dt.datetime] = {}
        self._live: dict[str, Connection] = {}

    def connection(self, endpoint_id: str) -> Connection | None:
        return self._live.get(endpoint_id)

    def connected_ids(self) -> list[str]:
        """The endpoints with a stream to this controller process."""
        return list(self._live)

    async def connected(
        self,
        endpoint_id: str,
        connection: Connection,
        agent_version: str,
        hostname: str,
        agent_policy: dict[str, object] | None = None,
    ) -> None:
        # One stream per agent: a new one means the old is dead (the agent only ever
        # holds one), so the newest wins.
        previous = self._live.pop(endpoint_id, None)
        if previous is not None:
            previous.close("replaced by a newer connection")
        self._live[endpoint_id] = connection
        self._seen.pop(endpoint_id, None)
        values: dict[str, object] = {"connected": True, "last_seen": utcnow()}
        if agent_version:
            values["agent_version"] = agent_version[:50]
        if hostname:
            values["hostname"] = hostname[:255]
        if agent_policy is not None:
            values["agent_policy"] = agent_policy
        async with self._sessions() as session:
            await session.execute(update(Endpoint).where(Endpoint.id == endpoint_id).values(values))
            await session.commit()

    def heard(self, endpoint_id: str) -> None:
        self._seen[endpoint_id] = utcnow()

    async def disconnected(self, endpoint_id: str, connection: Connection) -> None:
        if self._live.get(endpoint_id) is not connection:
            return  # a newer connection took over; it owns the row now
        del self._live[endpoint_id]
        last_seen = self._seen.pop(endpoint_id, None)
        values: dict[str, object] = {"connected": False}
        if last_seen is not None:
            values["last_seen"] = last_seen
        async with self._sessions() as session:
            await session.execute(update(Endpoint).where(Endpoint.id == endpoint_id).values(values))
            await session.commit()

    def kick(self, endpoint_id: str, reason: str) -> None:
        connection = self._live.get(endpoint_id)
        if connection is not None:
            connection.close(reason)

    async def flush(self) -> None:
        if not self._seen:
            return
        batch, self._seen = self._seen, {}
        async with self._sessions() as session:
            await session.execute(
                update(Endpoint),
                [{"id": endpoint_id, "last_seen": seen} for endpoint_id, seen in batch.items()],
            )
            await session.commit()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval_s)
            try:
                await self.flush()
            except Exception:  # a database hiccup must not stop presence tracking
                log.exception("could not record last-seen times")

    async def close_all(self, reason: str) -> None:
        """At a graceful stop: close this process's streams and record them as gone.

        After a crash nothing is written, but last_seen stops moving, so the endpoints
        fall out of the online window by themselves.
        """
        live, self._live = self._live, {}
        for connection in live.values():
            connection.close(reason)
        await self.flush()
        if live:
            async with self._sessions() as session:
                await session.execute(
                    update(Endpoint).where(Endpoint.id.in_(list(live))).values(connected=False)
                )
                await session.commit()
