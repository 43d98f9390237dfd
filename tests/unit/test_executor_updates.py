"""Which updates the executor reports: a quick run only its result, a slow one also "running"."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext
from agent.policy import Policy
from agent.runs import executor as executor_module
from agent.runs.executor import Executor
from agent.runs.journal import Journal
from catalogue import ActionResult
from protos.deskside.v1 import agent_pb2


def _sleeping(seconds: float) -> Any:
    def action(_params: object, _ctx: ActionContext) -> ActionResult:
        time.sleep(seconds)
        return ActionResult(output=f"slept {seconds}")

    return action


async def _run(tmp_path: Path) -> list[agent_pb2.RunUpdate]:
    updates: list[agent_pb2.RunUpdate] = []
    ended = asyncio.Event()

    def report(update: agent_pb2.RunUpdate) -> None:
        updates.append(update)
        if update.state != "running":
            ended.set()

    journal = Journal(tmp_path / "journal.db")
    executor = Executor(journal, Policy(), report)
    request = agent_pb2.RunRequest(
        run_id="r1",
        action="file.stat",
        params_json=json.dumps({"path": "/etc/hostname"}).encode(),
        timeout_ms=10_000,
    )
    executor.submit(request)
    await asyncio.wait_for(ended.wait(), 30)
    executor.close()
    journal.close()
    return updates


def test_a_quick_run_reports_only_its_result_with_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(IMPLEMENTATIONS, "file.stat", _sleeping(0))
    updates = asyncio.run(_run(tmp_path))
    assert [u.state for u in updates] == ["succeeded"]
    assert 0 < updates[0].started_at_ms <= updates[0].at_ms


def test_a_slow_run_says_it_is_running_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "RUNNING_AFTER_S", 0.05)
    monkeypatch.setitem(IMPLEMENTATIONS, "file.stat", _sleeping(0.4))
    updates = asyncio.run(_run(tmp_path))
    assert [u.state for u in updates] == ["running", "succeeded"]
    running, final = updates
    assert running.at_ms == final.started_at_ms
    assert final.at_ms - final.started_at_ms >= 400
