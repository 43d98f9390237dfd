"""Check results stored in groups: one transaction, exactly once, one bad result alone fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import event, func, select

from controller.checks import writer
from controller.checks.results import Change, Measured
from controller.checks.targets import version
from controller.checks.writer import CheckResults
from controller.fleet.grouped import EarlierFailed
from controller.storage.db import SessionFactory
from controller.storage.models import Check, CheckResult, CheckState, Endpoint

AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


async def _setup(sessions: SessionFactory, endpoints: int) -> tuple[tuple[int, int], list[str]]:
    """A check ((id, version)) and endpoints it applies to."""
    ids = [str(uuid.uuid4()) for _ in range(endpoints)]
    async with sessions() as session:
        for endpoint_id in ids:
            session.add(Endpoint(id=endpoint_id, hostname="pc"))
        check = Check(
            name=f"disk {uuid.uuid4().hex[:8]}",
            check="disk.free",
            params={"path": "/"},
            endpoint_ids=ids,
            interval_s=60,
        )
        session.add(check)
        await session.commit()
        return (check.id, version(check)), ids


def _result(check: tuple[int, int], endpoint_id: str, seq: int, status: str) -> Measured:
    return Measured(
        endpoint_id=endpoint_id,
        seq=seq,
        check_id=check[0],
        version=check[1],
        status=status,
        value={"free_percent": 42.7},
        message=f"result {seq}",
        evidence={"action": "disk.usage"},
        at=AT + dt.timedelta(seconds=seq),
    )


class Counted:
    """The session factory, counting the sessions (transactions) opened."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions, self.opened = sessions, 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.sessions()


async def _store_together(results_writer: CheckResults, results: list[Measured]) -> list[Any]:
    # Queued before the writer runs once: they are written as one group.
    return list(
        await asyncio.gather(*(results_writer.store(r) for r in results), return_exceptions=True)
    )


async def test_a_group_is_one_transaction_and_stores_each_result_once(
    sessions: SessionFactory,
) -> None:
    check, (first, second) = await _setup(sessions, 2)
    counted = Counted(sessions)
    outcomes = await _store_together(
        CheckResults(counted),  # type: ignore[arg-type]
        [
            _result(check, first, 1, "ok"),
            _result(check, first, 2, "warn"),
            _result(check, first, 2, "fail"),  # a resend of seq 2: not stored again
            _result(check, second, 1, "ok"),
            _result(check, second, 2, "ok"),
        ],
    )
    assert counted.opened == 1
    assert [(o.old_status, o.new_status) if isinstance(o, Change) else o for o in outcomes] == [
        (None, "ok"),
        ("ok", "warn"),
        None,
        (None, "ok"),
        None,
    ]
    async with sessions() as session:
        rows = await session.scalar(
            select(func.count()).select_from(CheckResult).where(CheckResult.check_id == check[0])
        )
        states = {
            s.endpoint_id: s.status
            for s in await session.scalars(
                select(CheckState).where(CheckState.check_id == check[0])
            )
        }
        seqs = [(await session.get(Endpoint, e)).last_seq for e in (first, second)]  # type: ignore[union-attr]
    assert rows == 4
    assert states == {first: "warn", second: "ok"}
    assert seqs == [2, 2]

    # Sent again in a later group (the ack was lost): nothing changes.
    again = await _store_together(CheckResults(sessions), [_result(check, first, 2, "fail")])
    assert again == [None]
    async with sessions() as session:
        state = await session.get(CheckState, (check[0], first))
        count = await session.scalar(select(func.count()).select_from(CheckResult))
    assert state is not None and state.status == "warn"
    assert count is not None and count >= 4


async def test_one_failing_result_fails_alone(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    check, (bad, good) = await _setup(sessions, 2)
    real = writer.apply_results
    broken = [True]

    async def failing(session: Any, batch: list[Measured]) -> list[Change | None]:
        if broken[0] and any(m.message == "result 1" and m.endpoint_id == bad for m in batch):
            raise RuntimeError("database said no")
        return await real(session, batch)

    monkeypatch.setattr(writer, "apply_results", failing)
    outcomes = await _store_together(
        CheckResults(sessions),
        [
            _result(check, bad, 1, "ok"),
            _result(check, good, 1, "ok"),
            _result(check, bad, 2, "ok"),
        ],
    )
    assert isinstance(outcomes[0], RuntimeError)
    assert isinstance(outcomes[1], Change) and outcomes[1].new_status == "ok"
    # Storing seq 2 would make the agent's resend of seq 1 look like a duplicate.
    assert isinstance(outcomes[2], EarlierFailed)
    # So would seq 3, read from the stream while seq 1 was being stored, in a later group.
    results_writer = CheckResults(sessions)
    failed_again = await _store_together(results_writer, [_result(check, bad, 1, "ok")])
    assert isinstance(failed_again[0], RuntimeError)
    later = await _store_together(results_writer, [_result(check, bad, 3, "ok")])
    assert isinstance(later[0], EarlierFailed)
    async with sessions() as session:
        bad_endpoint = await session.get(Endpoint, bad)
        good_endpoint = await session.get(Endpoint, good)
        stored = list(
            await session.scalars(
                select(CheckResult.endpoint_id).where(CheckResult.check_id == check[0])
            )
        )
    assert bad_endpoint is not None and bad_endpoint.last_seq == 0
    assert good_endpoint is not None and good_endpoint.last_seq == 1
    assert stored == [good]

    # The agent resends both: now they are stored, in order.
    broken[0] = False
    resent = await _store_together(
        results_writer, [_result(check, bad, 1, "ok"), _result(check, bad, 2, "warn")]
    )
    assert [(o.old_status, o.new_status) for o in resent] == [(None, "ok"), ("ok", "warn")]


async def test_a_stream_that_ended_is_forgiven_its_failure(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failed result may be gone from the agent's spool (trimmed): its next stream must
    not be refused for ever."""
    check, (endpoint,) = await _setup(sessions, 1)
    real = writer.apply_results
    broken = [True]

    async def failing(session: Any, batch: list[Measured]) -> list[Change | None]:
        if broken[0]:
            raise RuntimeError("database said no")
        return await real(session, batch)

    monkeypatch.setattr(writer, "apply_results", failing)
    results_writer = CheckResults(sessions)
    assert isinstance(
        (await _store_together(results_writer, [_result(check, endpoint, 1, "ok")]))[0],
        RuntimeError,
    )
    broken[0] = False
    assert isinstance(
        (await _store_together(results_writer, [_result(check, endpoint, 5, "ok")]))[0],
        EarlierFailed,
    )
    results_writer.forgive(endpoint)
    stored = await _store_together(results_writer, [_result(check, endpoint, 5, "ok")])
    assert isinstance(stored[0], Change)


async def test_a_group_costs_the_same_few_statements_whatever_its_size(
    sessions: SessionFactory,
) -> None:
    """Statements per group, not per result: what lets 10,000 endpoints report every minute."""
    check, endpoints = await _setup(sessions, 25)
    async with sessions() as session:
        engine = session.bind.sync_engine  # type: ignore[union-attr]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2][:60])

    event.listen(engine, "before_cursor_execute", count)
    try:
        for seq, status in ((1, "ok"), (3, "fail")):
            statements.clear()
            outcomes = await _store_together(
                CheckResults(sessions),
                [_result(check, e, seq + n, status) for e in endpoints for n in range(2)],
            )
            assert not [o for o in outcomes if isinstance(o, BaseException)]
            # Seqs (lock, then raise), the check, results, states (read, insert or update).
            assert len([s for s in statements if s != "BEGIN"]) <= 7, statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(CheckResult).where(CheckResult.check_id == check[0])
        )
        failing = await session.scalar(
            select(func.count())
            .select_from(CheckState)
            .where(CheckState.check_id == check[0], CheckState.status == "fail")
        )
    assert stored == 100 and failing == 25


async def test_results_the_controller_measured_need_no_sequence(sessions: SessionFactory) -> None:
    """An agentless endpoint's checks are measured by the controller (seq 0): each is new,
    and the endpoint's last_seq, which its own durable messages use, is left alone."""
    check, (endpoint,) = await _setup(sessions, 1)
    outcomes = await _store_together(
        CheckResults(sessions),
        [_result(check, endpoint, 0, "ok"), _result(check, endpoint, 0, "fail")],
    )
    assert [(o.old_status, o.new_status) for o in outcomes] == [(None, "ok"), ("ok", "fail")]
    again = await _store_together(CheckResults(sessions), [_result(check, endpoint, 0, "fail")])
    assert again == [None]  # stored, the status did not move
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(CheckResult).where(CheckResult.endpoint_id == endpoint)
        )
        row = await session.get(Endpoint, endpoint)
    assert stored == 3 and row is not None and row.last_seq == 0
