"""Runs through real processes: request, deliver, execute, report, exactly once."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import AgentProcess, ControllerProcess, wait_for
from sql import query

TERMINAL = {"succeeded", "failed", "cancelled", "expired", "interrupted"}


@pytest.fixture(scope="module")
def agent(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AgentProcess, str]]:
    base = tmp_path_factory.mktemp("runs")
    process = AgentProcess(base / "agent")
    endpoint_id = process.enroll(controller, controller.enrollment_token(tags=["runs"]))
    (base / "agent" / "policy.toml").write_text(
        'max_risk = "medium"\ndeny_actions = ["disk.*"]\n'
        f'allowed_paths = ["/etc", "/proc", "{base}"]\n'
    )
    process.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
    yield process, endpoint_id
    process.stop()


def _run(
    controller: ControllerProcess,
    endpoint_id: str,
    action: str,
    params: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    with controller.client() as client:
        response = client.post(
            "/runs", json={"endpoint_id": endpoint_id, "action": action, "params": params, **extra}
        )
    assert response.status_code == 201, response.text
    return dict(response.json()["items"][0])


def _get(controller: ControllerProcess, run_id: str) -> dict[str, Any]:
    with controller.client() as client:
        return dict(client.get(f"/runs/{run_id}").json())


def _finished(controller: ControllerProcess, run_id: str, timeout: float = 30) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (r := _get(controller, run_id))["state"] in TERMINAL and r,
            timeout,
            f"run {run_id}",
        )
    )


def test_a_diagnostic_runs_and_returns_evidence(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    run = _finished(
        controller, _run(controller, endpoint_id, "file.stat", {"path": "/etc/hostname"})["id"]
    )
    assert run["state"] == "succeeded", run
    assert run["result"]["data"]["size"] == Path("/etc/hostname").stat().st_size
    assert len(run["result"]["data"]["sha256"]) == 64
    assert run["started_at"] and run["finished_at"] and run["requested_by"] == "admin"


def test_a_real_runaway_process_is_killed(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    runaway = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        run = _finished(
            controller, _run(controller, endpoint_id, "process.kill", {"pid": runaway.pid})["id"]
        )
        assert run["state"] == "succeeded", run
        assert runaway.wait(10) == -signal.SIGTERM
        assert run["result"]["changed"] is True
        assert run["result"]["evidence"]["before"][0]["pid"] == runaway.pid
        assert run["result"]["evidence"]["after"]["signalled"] == [runaway.pid]
    finally:
        runaway.kill()


def test_dry_run_changes_nothing(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        run = _finished(
            controller,
            _run(controller, endpoint_id, "process.kill", {"pid": sleeper.pid}, dry_run=True)["id"],
        )
        assert run["state"] == "succeeded" and run["result"]["changed"] is False
        assert "would send SIGTERM" in run["result"]["output"]
        assert sleeper.poll() is None
    finally:
        sleeper.kill()


def test_the_agents_policy_refuses_whatever_the_controller_asks(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], tmp_path: Path
) -> None:
    process, endpoint_id = agent
    escape = process.state_dir.parent / "escape"
    escape.symlink_to("/root/.profile")
    cases = [
        ("disk.cleanup", {"paths": ["/tmp"]}, "is denied on this machine"),
        ("file.stat", {"path": "/root/.profile"}, "outside the paths allowed"),
        ("file.stat", {"path": str(escape)}, "outside the paths allowed"),  # a symlink out
        ("process.kill", {"pid": process.process.pid}, "protected"),  # the agent itself
    ]
    for action, params, reason in cases:
        run = _finished(controller, _run(controller, endpoint_id, action, params)["id"])
        assert run["state"] == "failed", run
        assert run["result"]["error"]["code"] == "policy_denied", run["result"]
        assert reason in run["result"]["error"]["message"]
    assert process.process.poll() is None


def test_the_agent_validates_again_what_the_controller_let_through(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], database: str
) -> None:
    """A run written straight into the database skips the controller's checks."""
    _, endpoint_id = agent
    forged = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    stamp = now if "postgres" in database else now.strftime("%Y-%m-%d %H:%M:%S.%f")
    query(
        database,
        "INSERT INTO runs (id, endpoint_id, action, params, dry_run, risk, state, approval,"
        " cancel_requested, requested_by, reason, request_id, timeout_s, created_at)"
        " VALUES ($1, $2, 'process.kill', '{\"pid\": 1}', false, 'medium', 'queued', 'none',"
        " false, 'forger', '', '', 60, $3)",
        forged,
        endpoint_id,
        stamp,
    )
    run = _finished(controller, forged)
    assert run["state"] == "failed"
    assert run["result"]["error"]["code"] == "invalid_params"
    assert "pid" in run["result"]["error"]["message"]


def test_high_risk_is_refused_by_a_medium_policy_even_when_approved(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    run = _run(controller, endpoint_id, "system.reboot", {"delay_s": 3600})
    assert run["approval"] == "approved"  # an admin asked: no second person needed
    finished = _finished(controller, run["id"])
    assert finished["state"] == "failed" and finished["result"]["error"]["code"] == "policy_denied"
    assert "high risk" in finished["result"]["error"]["message"]


def test_runs_for_an_offline_agent_wait_and_run_once_after_a_kill(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], database: str
) -> None:
    process, endpoint_id = agent
    process.stop(signal.SIGKILL)
    wait_for(lambda: not controller.endpoint(endpoint_id)["online"], 15, "offline")
    # "online" turns false when heartbeats stop; runs wait only once the controller has
    # also seen the stream end (on a loaded machine that can come a moment later).
    connected = "SELECT connected FROM endpoints WHERE id = $1"
    wait_for(lambda: not query(database, connected, endpoint_id)[0][0], 15, "stream closed")
    queued = [_run(controller, endpoint_id, "file.stat", {"path": "/etc/hosts"}) for _ in range(3)]
    time.sleep(1)
    assert {_get(controller, r["id"])["state"] for r in queued} == {"queued"}
    process.start()
    finished = [_finished(controller, r["id"]) for r in queued]
    assert {r["state"] for r in finished} == {"succeeded"}
    # Each run executed once: the agent's journal holds each ID once, the controller one result.
    journal = query(
        f"sqlite:///{process.state_dir / 'spool.db'}",
        "SELECT run_id, COUNT(*) FROM runs GROUP BY run_id HAVING COUNT(*) > 1",
    )
    assert journal == []
    log = process.log()
    for run in queued:
        assert log.count(f"run {run['id']} (file.stat) succeeded") == 1


def test_bad_requests_are_refused_before_anything_is_sent(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], database: str
) -> None:
    _, endpoint_id = agent
    before = query(database, "SELECT COUNT(*) FROM runs")[0][0]
    with controller.client() as client:
        for body, field in (
            ({"action": "shell.exec", "params": {}}, "action"),
            ({"action": "service.restart", "params": {"name": "x; reboot"}}, "name"),
            ({"action": "file.stat", "params": {"path": "/etc/../shadow"}}, "path"),
            ({"action": "file.stat", "params": {"path": "/x\u0000"}}, "path"),
            ({"action": "file.stat", "params": {"path": "/" + "a" * 70000}}, "params"),
            ({"action": "file.stat", "params": {"path": "/etc/hosts"}, "dry_run": True}, "dry_run"),
        ):
            response = client.post("/runs", json={"endpoint_id": endpoint_id, **body})
            assert response.status_code == 422, (body, response.text)
            assert field in str(response.json()["detail"][0]["loc"]), response.text
        unknown = client.post(
            "/runs",
            json={"endpoint_id": "nope", "action": "file.stat", "params": {"path": "/etc/hosts"}},
        )
        assert unknown.status_code == 422 and "endpoint_id" in unknown.text
        empty = client.post(
            "/runs",
            json={"endpoint_ids": [], "action": "file.stat", "params": {"path": "/etc/hosts"}},
        )
        assert empty.status_code == 422 and "endpoint_ids" in empty.text, empty.text
    assert query(database, "SELECT COUNT(*) FROM runs")[0][0] == before


def test_a_controller_killed_mid_run_gets_the_result_once_after_restart(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], database: str
) -> None:
    process, endpoint_id = agent
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "online")
    # Ignores SIGTERM, so process.kill waits its full grace period: time to pull the plug.
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
        ]
    )
    try:
        time.sleep(0.5)  # let it install the handler
        run = _run(controller, endpoint_id, "process.kill", {"pid": stubborn.pid})
        wait_for(lambda: _get(controller, run["id"])["state"] == "running", 15, "running")
        controller.stop(signal.SIGKILL)
        time.sleep(6)  # the action ends while no controller listens: its result is spooled
        controller.restart()
        finished = _finished(controller, run["id"])
        assert finished["state"] == "succeeded", finished
        assert finished["result"]["evidence"]["after"]["still_running"] == [stubborn.pid]
        assert process.log().count(f"run {run['id']} (process.kill) succeeded") == 1
        stored = query(database, "SELECT COUNT(*) FROM runs WHERE id = $1", run["id"])
        assert stored == [(1,)]
    finally:
        stubborn.kill()


def test_the_controller_shows_the_agents_policy(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    policy = controller.endpoint(endpoint_id)["agent_policy"]
    assert policy["max_risk"] == "medium"
    assert policy["deny_actions"] == ["disk.*"]
    assert "/etc" in policy["allowed_paths"]


def test_a_run_can_be_followed_live_to_its_end(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    import json

    import httpx

    _, endpoint_id = agent
    run = _run(controller, endpoint_id, "process.list", {"limit": 3})
    states = []
    headers = {"Authorization": f"Bearer {controller.env['DESKSIDE_BOOTSTRAP_TOKEN']}"}
    url = f"{controller.url}/api/v1/runs/{run['id']}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "run":
                states.append(json.loads(line.removeprefix("data: "))["state"])
            elif line.startswith("data: ") and event == "end":
                break
    assert states[-1] == "succeeded"
    assert len(states) == len(set(states)) or states.count("succeeded") == 1


def test_run_and_wait_answers_with_the_outcome(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    with controller.client() as client:
        body = {"endpoint_id": endpoint_id, "action": "file.stat", "params": {"path": "/etc/hosts"}}
        done = client.post("/runs", params={"wait_s": 30}, json=body)
        assert done.status_code == 201
        (run,) = done.json()["items"]
        assert run["state"] == "succeeded" and run["result"]["data"]["path"] == "/etc/hosts"
        slow = client.post("/runs", params={"wait_s": 0.2}, json={**body, "expires_at": None})
        assert slow.json()["items"][0]["state"] in {"queued", "sent", "running", "succeeded"}
