"""The controller's checks at run time: results in, check sets out.

One per controller. The gateway hands it each durable check result and asks it for an
endpoint's check set at connect; the API tells it when checks change, and it re-sends
the sets of the connected endpoints they concern. on_change is the seam the automation
loop plugs into: called after the commit whenever a check's status on an endpoint moves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select

from controller.checks.results import Change, Measured
from controller.checks.targets import CheckOrder, Where, orders_for
from controller.checks.writer import CheckResults
from controller.fleet.presence import Presence
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint

log = logging.getLogger(__name__)
# on_change(check_id, endpoint_id, old_status, new_status, result_id); old_status is None
# for an endpoint's first result of the check.
OnChange = Callable[[int, str, str | None, str, int], Awaitable[None]]


@runtime_checkable
class CheckChannel(Protocol):
    """What the gateway's connection offers: send an endpoint its whole check set."""

    def send_checks(self, orders: list[CheckOrder]) -> None: ...


async def _nothing(*_: Any) -> None:
    return None


class CheckHub:
    def __init__(self, sessions: SessionFactory, presence: Presence) -> None:
        self._sessions = sessions
        self._presence = presence
        self.on_change: OnChange = _nothing
        self.results = CheckResults(sessions)

    async def store(self, measured: Measured) -> Change | None:
        """Store a result exactly once, in a group with the results arriving with it (the
        commit is behind us on return). Raises what the database raised (no ack, resent)."""
        change = await self.results.store(measured)
        if change is not None:
            try:
                await self.on_change(
                    change.check_id,
                    change.endpoint_id,
                    change.old_status,
                    change.new_status,
                    change.result_id,
                )
            except Exception:  # the result is stored; a listener's bug must not undo the ack
                log.exception("on_change failed for check %d", change.check_id)
        return change

    async def send_set(self, endpoint_id: str, channel: CheckChannel) -> None:
        """The endpoint's full check set, to one connection (at connect)."""
        async with self._sessions() as session:
            orders = await orders_for(session, [endpoint_id])
        channel.send_checks(orders.get(endpoint_id, []))

    async def changed(self, wheres: Iterable[Where]) -> int:
        """Checks with these targets (before and after a change) changed: re-send the sets
        of the endpoints connected here that they reach. Returns how many were sent."""
        live = self._presence.connected_ids()
        if not live:
            return 0
        targets = list(wheres)
        async with self._sessions() as session:
            endpoints = await session.scalars(select(Endpoint).where(Endpoint.id.in_(live)))
            concerned = [
                e.id
                for e in endpoints
                if any(w.applies(e.id, e.site_id, {t.tag for t in e.tags}) for w in targets)
            ]
            orders = await orders_for(session, concerned)
        sent = 0
        for endpoint_id, endpoint_orders in orders.items():
            channel = self._presence.connection(endpoint_id)
            if isinstance(channel, CheckChannel):
                channel.send_checks(endpoint_orders)
                sent += 1
        return sent

    async def endpoint_changed(self, endpoint_id: str) -> bool:
        """The endpoint moved site or changed tags: send it its check set again, if it is
        connected here (an agent elsewhere gets it at its next connect)."""
        channel = self._presence.connection(endpoint_id)
        if not isinstance(channel, CheckChannel):
            return False
        await self.send_set(endpoint_id, channel)
        return True
