"""The agent's checks: timing on a fake clock, the stored set across restarts, one real run."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.checks import store
from agent.checks.runner import CheckRunner
from agent.checks.scheduler import MAX_FIRST_JITTER_S, Scheduler
from agent.checks.store import Definition
from agent.policy import Policy
from agent.runs.executor import Executor
from agent.runs.journal import Journal
from protos.deskside.v1 import agent_pb2


class Clock:
    def __init__(self, now: float = 1767225600.0) -> None:  # 2026-01-01T00:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _never(_: Definition) -> None:
    return None


def _interval(check_id: int, interval_s: int, version: int = 1) -> Definition:
    return Definition(check_id, f"c{check_id}", "disk.free", interval_s=interval_s, version=version)


async def test_interval_checks_start_jittered_then_keep_their_interval() -> None:
    clock = Clock()
    scheduler = Scheduler(_never, clock=clock, rng=lambda: 0.5)
    scheduler.replace([_interval(1, 60), _interval(2, 4)])
    # First run: half of min(interval, MAX_FIRST_JITTER_S) later.
    assert scheduler.next_wake() == clock.now + 2
    assert scheduler.due() == []
    clock.now += 2
    assert sorted(d.id for d in scheduler.due()) == [2]
    clock.now += 2
    assert sorted(d.id for d in scheduler.due()) == []
    clock.now = 1767225600.0 + MAX_FIRST_JITTER_S / 2  # 5 s: check 1's first run
    assert sorted(d.id for d in scheduler.due()) == [1]
    clock.now += 1
    assert sorted(d.id for d in scheduler.due()) == [2]
    assert scheduler.next_wake() == 1767225600.0 + 10  # check 2: 2 + 4 + 4
    # A late wake-up does not catch up on missed rounds.
    clock.now += 1000
    assert sorted(d.id for d in scheduler.due()) == [1, 2]
    assert sorted(d.id for d in scheduler.due()) == []


async def test_cron_checks_run_on_their_minutes_and_changes_restart_timing() -> None:
    clock = Clock(1767225600.0 + 7 * 60)  # 00:07
    scheduler = Scheduler(_never, clock=clock, rng=lambda: 0.0)
    cron = Definition(5, "quarterly", "disk.free", cron="*/15 * * * *", version=1)
    scheduler.replace([cron, _interval(1, 60)])
    assert scheduler.next_wake() == clock.now  # the interval check, no jitter here
    assert sorted(d.id for d in scheduler.due()) == [1]
    clock.now = 1767225600.0 + 15 * 60
    assert sorted(d.id for d in scheduler.due()) == [1, 5]
    assert scheduler._next[5] == 1767225600.0 + 30 * 60
    # Same version: timing kept. A new version: timing starts over.
    scheduler.replace([cron, _interval(1, 60)])
    assert scheduler._next[1] == clock.now + 60
    scheduler.replace([cron, _interval(1, 60, version=2)])
    assert scheduler._next[1] == clock.now
    scheduler.replace([])
    assert scheduler.next_wake() is None


def test_the_stored_set_survives_a_restart(tmp_path: Path) -> None:
    message = agent_pb2.CheckSet(
        checks=[
            agent_pb2.CheckDefinition(
                id=7,
                name="tmp space",
                check="disk.free",
                params_json=b'{"path": "/tmp"}',
                thresholds_json=b'{"warn_below_percent": 10}',
                interval_s=30,
                version=3,
            )
        ]
    )
    definitions = store.from_message(message)
    store.save(tmp_path, definitions)
    assert (tmp_path / store.CHECKS_FILE).stat().st_mode & 0o777 == 0o600
    assert store.load(tmp_path) == definitions  # what a restarted agent reads
    assert definitions[0].params == {"path": "/tmp"} and definitions[0].version == 3
    (tmp_path / store.CHECKS_FILE).write_text("{broken")
    assert store.load(tmp_path) == []
    assert store.load(tmp_path / "absent") == []


async def _one_result(
    tmp_path: Path, definition: Definition, policy: Policy
) -> agent_pb2.CheckResultMessage:
    results: list[agent_pb2.CheckResultMessage] = []
    executor = Executor(Journal(tmp_path / "journal.db"), policy, lambda _: None)
    runner = CheckRunner(tmp_path, lambda: executor, results.append)
    try:
        await asyncio.wait_for(runner.run_check(definition), 30)
    finally:
        executor.close()
    assert len(results) == 1
    return results[0]


async def test_a_real_process_absent_check_fails_then_passes(tmp_path: Path) -> None:
    name = "dskunit-probe"
    binary = tmp_path / name
    shutil.copy("/bin/sleep", binary)
    definition = Definition(9, "no probe", "process.absent", params={"name": name}, version=4)
    probe = subprocess.Popen([str(binary), "60"])  # noqa: ASYNC220 - returns at once
    try:
        found = await _one_result(tmp_path, definition, Policy())
    finally:
        probe.kill()
        probe.wait()
    assert (found.check_id, found.version, found.status) == (9, 4, "fail")
    assert json.loads(found.value_json) == 1 and found.at_ms > 0
    proof = json.loads(found.evidence_json)
    assert proof["action"] == "process.list" and proof["data"]["processes"][0]["pid"] == probe.pid
    gone = await _one_result(tmp_path, definition, Policy())
    assert gone.status == "ok" and json.loads(gone.value_json) == 0


async def test_the_local_policy_still_applies(tmp_path: Path) -> None:
    definition = Definition(3, "tmp", "disk.free", params={"path": "/tmp"}, version=1)
    refused = await _one_result(tmp_path, definition, Policy(deny_actions=["disk.*"]))
    assert refused.status == "error" and "policy_denied" in refused.message
    assert "disk.usage is denied" in refused.message


@pytest.mark.parametrize("params", [{"path": "relative"}, {"nope": 1}])
async def test_a_bad_definition_reports_an_error(tmp_path: Path, params: dict[str, str]) -> None:
    definition = Definition(4, "bad", "disk.free", params=params, version=1)
    bad = await _one_result(tmp_path, definition, Policy())
    assert bad.status == "error" and bad.message.startswith("params.")
