"""An agent killed outright (SIGKILL: no goodbye, the kernel closes its socket) is seen to go
every time, at once, and its endpoint row says so.

grpc cancels the stream's handler when the peer vanishes, and that cancel can land while the
handler is already cleaning up. Before the clean-up ran in a task of its own, it could stop
mid-write: the endpoint stayed `connected` for good, and on PostgreSQL an interrupted
transaction could hold the endpoint's row lock (it happened within two kills)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import AgentProcess, ControllerProcess, wait_for
from sql import query

KILLS = 6


@pytest.fixture(scope="module")
def agent(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AgentProcess, str]]:
    process = AgentProcess(Path(tmp_path_factory.mktemp("vanishes")) / "agent")
    endpoint_id = process.enroll(controller, controller.enrollment_token())
    yield process, endpoint_id
    process.stop()


def test_every_kill_is_seen_and_recorded(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], database: str
) -> None:
    process, endpoint_id = agent
    connected = "SELECT connected FROM endpoints WHERE id = $1"
    for kill in range(KILLS):
        process.start()
        wait_for(lambda: query(database, connected, endpoint_id)[0][0], 30, "connected")
        time.sleep(0.3 * (kill % 3))  # killed at different points of its first seconds
        process.stop(signal.SIGKILL)
        try:
            wait_for(lambda: not query(database, connected, endpoint_id)[0][0], 15, "closed")
        except AssertionError:
            raise AssertionError(
                f"kill {kill + 1}: the endpoint is still connected\n{controller.log()[-4000:]}"
            ) from None
    log = controller.log()
    assert log.count(f"agent {endpoint_id} disconnected") == KILLS, log[-3000:]
