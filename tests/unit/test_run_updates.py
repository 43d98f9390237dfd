"""Run updates stored in groups: exactly once, in order, one bad update alone fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

from controller.fleet.grouped import EarlierFailed
from controller.runs import updates
from controller.runs.updates import RunUpdate, RunUpdates
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint, Run

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
STARTED = AT - dt.timedelta(seconds=3)


async def _runs(sessions: SessionFactory, count: int) -> tuple[str, list[str]]:
    endpoint_id = str(uuid.uuid4())
    run_ids = [str(uuid.uuid4()) for _ in range(count)]
    async with sessions() as session:
        session.add(Endpoint(id=endpoint_id, hostname="pc"))
        await session.flush()
        for run_id in run_ids:
            session.add(
                Run(
                    id=run_id,
                    endpoint_id=endpoint_id,
                    action="file.stat",
                    params={},
                    risk="read",
                    state="sent",
                    requested_by="test",
                )
            )
        await session.commit()
    return endpoint_id, run_ids


def _final(endpoint_id: str, seq: int, run_id: str, **changes: object) -> RunUpdate:
    fields: dict[str, object] = {
        "endpoint_id": endpoint_id,
        "seq": seq,
        "run_id": run_id,
        "state": "succeeded",
        "result": {"changed": False, "output": f"run {seq}"},
        "at": AT,
        "started_at": STARTED,
    }
    return RunUpdate(**{**fields, **changes})  # type: ignore[arg-type]


async def _store_together(sessions: SessionFactory, updates: list[RunUpdate]) -> list[object]:
    writer = RunUpdates(sessions)
    task = asyncio.create_task(writer.run())
    try:
        # Queued before the writer runs once: they are written as one group.
        return list(
            await asyncio.gather(*(writer.store(u) for u in updates), return_exceptions=True)
        )
    finally:
        task.cancel()


async def test_a_group_stores_each_update_once_and_skips_resends(
    sessions: SessionFactory,
) -> None:
    endpoint_id, (first, second) = await _runs(sessions, 2)
    outcomes = await _store_together(
        sessions,
        [
            _final(endpoint_id, 1, first),
            _final(endpoint_id, 2, second),
            _final(endpoint_id, 2, second, result={"output": "resent"}),
        ],
    )
    assert [getattr(o, "state", o) for o in outcomes] == ["succeeded", "succeeded", None]
    async with sessions() as session:
        stored = await session.get(Run, second)
        endpoint = await session.get(Endpoint, endpoint_id)
    assert stored is not None and endpoint is not None
    assert stored.result is not None and stored.result["output"] == "run 2"
    assert stored.started_at == STARTED and stored.finished_at == AT
    assert endpoint.last_seq == 2


async def test_a_late_running_update_does_not_undo_the_result(sessions: SessionFactory) -> None:
    endpoint_id, (run_id,) = await _runs(sessions, 1)
    outcomes = await _store_together(
        sessions,
        [
            _final(endpoint_id, 1, run_id),
            _final(endpoint_id, 2, run_id, state="running", result=None),
        ],
    )
    assert [getattr(o, "state", o) for o in outcomes] == ["succeeded", None]
    async with sessions() as session:
        stored = await session.get(Run, run_id)
    assert stored is not None and stored.state == "succeeded"


async def test_one_failing_update_fails_alone(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_endpoint, (bad, after_bad) = await _runs(sessions, 2)
    good_endpoint, (good,) = await _runs(sessions, 1)
    real = updates._checked_result

    def failing(result: dict[str, Any] | None) -> dict[str, Any] | None:
        if result and result.get("output") == "poison":
            raise RuntimeError("database said no")
        return real(result)

    monkeypatch.setattr(updates, "_checked_result", failing)
    outcomes = await _store_together(
        sessions,
        [
            _final(bad_endpoint, 1, bad, result={"output": "poison"}),
            _final(good_endpoint, 1, good),
            _final(bad_endpoint, 2, after_bad),
        ],
    )
    assert isinstance(outcomes[0], RuntimeError)
    assert getattr(outcomes[1], "state", None) == "succeeded"
    # Storing seq 2 would make the agent's resend of seq 1 look like a duplicate.
    assert isinstance(outcomes[2], EarlierFailed)
    async with sessions() as session:
        endpoint = await session.get(Endpoint, bad_endpoint)
        states = [(await session.get(Run, run_id)).state for run_id in (bad, after_bad, good)]  # type: ignore[union-attr]
    assert endpoint is not None and endpoint.last_seq == 0
    assert states == ["sent", "sent", "succeeded"]
