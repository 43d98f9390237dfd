"""Selectors and batches, cancelling, and the approval of high-risk runs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from processes import AgentProcess, ControllerProcess, wait_for

TERMINAL = {"succeeded", "failed", "cancelled", "expired", "interrupted"}


@pytest.fixture(scope="module")
def agents(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[tuple[AgentProcess, str]]]:
    base = tmp_path_factory.mktemp("control")
    started = []
    for name in ("one", "two"):
        agent = AgentProcess(base / name)
        endpoint_id = agent.enroll(controller, controller.enrollment_token(tags=["control"]))
        # Approved high-risk runs really reach these agents: never let one reboot CI.
        (base / name / "policy.toml").write_text('deny_actions = ["system.reboot", "user.*"]\n')
        agent.start()
        started.append((agent, endpoint_id))
    for _, endpoint_id in started:
        wait_for(lambda e=endpoint_id: controller.endpoint(e)["online"], 30, "agents online")
    yield started
    for agent, _ in started:
        agent.stop()


@pytest.fixture(scope="module")
def tier1(controller: ControllerProcess) -> Iterator[httpx.Client]:
    with controller.client() as admin:
        user = admin.post("/users", json={"username": "control-t1", "role": "tier1"}).json()
        token = admin.post("/tokens", json={"name": "t", "user_id": user["id"]}).json()["token"]
    with controller.client(token) as client:
        yield client


def _wait(client: httpx.Client, run_id: str) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (r := client.get(f"/runs/{run_id}").json())["state"] in TERMINAL and r,
            60,
            run_id,
        )
    )


def test_a_tag_selector_makes_a_batch(
    controller: ControllerProcess, agents: list[tuple[AgentProcess, str]]
) -> None:
    with controller.client() as client:
        created = client.post(
            "/runs",
            params={"wait_s": 30},
            json={"tags": ["control"], "action": "file.stat", "params": {"path": "/etc/hostname"}},
        )
        assert created.status_code == 201
        batch = created.json()
        assert batch["batch_id"] and {r["endpoint_id"] for r in batch["items"]} == {
            e for _, e in agents
        }
        listed = client.get("/runs", params={"batch": batch["batch_id"]}).json()["items"]
        assert {r["state"] for r in listed} == {"succeeded"} and len(listed) == 2
        none = client.post(
            "/runs",
            json={
                "tags": ["nobody-has-this"],
                "action": "file.stat",
                "params": {"path": "/etc/hostname"},
            },
        )
        assert none.status_code == 422 and "tags" in none.text


def test_cancel_a_queued_run_and_a_running_one(
    controller: ControllerProcess, agents: list[tuple[AgentProcess, str]]
) -> None:
    (agent, endpoint_id), _ = agents
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ]
    )
    try:
        time.sleep(0.5)
        with controller.client() as client:
            running = client.post(
                "/runs",
                json={
                    "endpoint_id": endpoint_id,
                    "action": "process.kill",
                    "params": {"pid": stubborn.pid},
                },
            ).json()["items"][0]
            wait_for(
                lambda: client.get(f"/runs/{running['id']}").json()["state"] == "running",
                15,
                "running",
            )
            cancel = client.post(f"/runs/{running['id']}/cancel")
            assert cancel.status_code == 200 and cancel.json()["cancel_requested"] is True
            ended = _wait(client, running["id"])
            assert ended["state"] == "cancelled" and ended["result"]["error"]["code"] == "cancelled"
            assert client.post(f"/runs/{running['id']}/cancel").status_code == 409
            agent.stop()
            wait_for(lambda: not controller.endpoint(endpoint_id)["online"], 15, "offline")
            queued = client.post(
                "/runs",
                json={
                    "endpoint_id": endpoint_id,
                    "action": "file.stat",
                    "params": {"path": "/etc/hostname"},
                },
            ).json()["items"][0]
            assert client.post(f"/runs/{queued['id']}/cancel").json()["state"] == "cancelled"
            agent.start()
            wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "online")
            time.sleep(1)
            assert client.get(f"/runs/{queued['id']}").json()["state"] == "cancelled"
        assert f"run {queued['id']}" not in agent.log(), "a cancelled queued run reached the agent"
    finally:
        stubborn.send_signal(signal.SIGKILL)


def test_high_risk_from_tier1_waits_for_approval(
    controller: ControllerProcess, agents: list[tuple[AgentProcess, str]], tier1: httpx.Client
) -> None:
    _, (agent, endpoint_id) = agents
    asked = tier1.post(
        "/runs",
        json={"endpoint_id": endpoint_id, "action": "system.reboot", "params": {"delay_s": 3600}},
    )
    assert asked.status_code == 201
    run = asked.json()["items"][0]
    assert run["approval"] == "pending"
    time.sleep(2.5)  # longer than a dispatch sweep: still not sent
    assert tier1.get(f"/runs/{run['id']}").json()["state"] == "queued"
    assert tier1.post(f"/runs/{run['id']}/approve").status_code == 403
    with controller.client() as admin:
        approved = admin.post(f"/runs/{run['id']}/approve")
        assert approved.status_code == 200 and approved.json()["approved_by"] == "admin"
        ended = _wait(admin, run["id"])
    # Approved and sent; then the agent's own policy had the last word.
    assert ended["approval"] == "approved" and ended["state"] == "failed"
    assert ended["result"]["error"]["code"] == "policy_denied"
    assert f"run {run['id']}" in agent.log()
    denied = tier1.post(
        "/runs",
        json={
            "endpoint_id": endpoint_id,
            "action": "user.reset_password",
            "params": {"username": "bob", "password": "Sup3r-secret!"},
        },
    ).json()["items"][0]
    with controller.client() as admin:
        refused = admin.post(f"/runs/{denied['id']}/deny").json()
        assert refused["state"] == "cancelled" and refused["result"]["error"]["code"] == "denied"
        assert admin.post(f"/runs/{denied['id']}/approve").status_code == 409


def test_dry_runs_need_no_approval(
    tier1: httpx.Client, agents: list[tuple[AgentProcess, str]]
) -> None:
    _, (_, endpoint_id) = agents
    run = tier1.post(
        "/runs",
        json={"endpoint_id": endpoint_id, "action": "system.reboot", "params": {}, "dry_run": True},
    ).json()["items"][0]
    assert run["approval"] == "none"
