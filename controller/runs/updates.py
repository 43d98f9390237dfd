"""Agents' run updates, stored exactly once and in groups.

Each update is stored in the transaction that takes its sequence number, so a resend is
never applied twice. Updates that arrive together (a fan-out's results) share one
transaction: on SQLite every extra writer would wait out the busy handler's sleeps, and on
PostgreSQL every commit is a disk flush.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue import ActionResult
from controller.fleet.grouped import GroupWriter, one_by_one
from controller.fleet.sequence import take
from controller.runs.service import TERMINAL
from controller.storage.db import SessionFactory
from controller.storage.models import Run

log = logging.getLogger(__name__)
AGENT_STATES = frozenset({"running"}) | TERMINAL


@dataclass(frozen=True)
class RunUpdate:
    """One durable run update from an agent, as the gateway decoded it."""

    endpoint_id: str
    seq: int
    run_id: str
    state: str
    result: dict[str, Any] | None
    at: dt.datetime
    started_at: dt.datetime | None = None


@dataclass(frozen=True)
class Ended:
    """A run's fields as an agent's update left them."""

    state: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: dict[str, Any] | None


class RunUpdates(GroupWriter[RunUpdate, Ended | None]):
    """store() answers the run's new state once stored; None for a resend, a late or an
    unusable update."""

    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__(sessions, one_by_one(_apply))


async def _apply(session: AsyncSession, run_update: RunUpdate) -> Ended | None:
    endpoint_id, run_id, state = run_update.endpoint_id, run_update.run_id, run_update.state
    if not await take(session, endpoint_id, run_update.seq):
        return None
    row = None
    if state in AGENT_STATES:
        stored = await session.execute(
            update(Run)
            .where(Run.id == run_id, Run.endpoint_id == endpoint_id, Run.state.not_in(TERMINAL))
            .values(_values(run_update))
            .returning(Run.state, Run.started_at, Run.finished_at, Run.result)
            .execution_options(synchronize_session=False)
        )
        row = stored.one_or_none()
    if row is None:  # the sequence is still taken: the agent must not send it again
        # A late "running" after the result is normal; anything else is worth a look.
        level = logging.DEBUG if state == "running" else logging.WARNING
        log.log(level, "endpoint %s: %s for run %s changed nothing", endpoint_id, state, run_id)
        return None
    return Ended(
        state=row.state, started_at=row.started_at, finished_at=row.finished_at, result=row.result
    )


def _values(run_update: RunUpdate) -> dict[str, Any]:
    if run_update.state == "running":
        return {"state": "running", "started_at": run_update.at}
    return {
        "state": run_update.state,
        "finished_at": run_update.at,
        "started_at": func.coalesce(Run.started_at, run_update.started_at or run_update.at),
        "result": _checked_result(run_update.result),
    }


def _checked_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    try:
        return ActionResult.model_validate(result).model_dump(mode="json")
    except ValidationError as exc:
        message = f"the agent's result did not have the catalogue's shape: {exc.errors()[0]['msg']}"
        return ActionResult.failure("bad_result", message).model_dump(mode="json")
