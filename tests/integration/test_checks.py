"""Health checks through real processes: defined by the API, run by the agent, judged, stored."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import AgentProcess, ControllerProcess, wait_for
from sql import query

from protos.deskside.v1 import agent_pb2


@pytest.fixture(scope="module")
def agent(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AgentProcess, str, Path]]:
    base = tmp_path_factory.mktemp("checks")
    process = AgentProcess(base / "agent")
    endpoint_id = process.enroll(controller, controller.enrollment_token(tags=["checks"]))
    (base / "agent" / "policy.toml").write_text(f'max_risk = "read"\nallowed_paths = ["{base}"]\n')
    process.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
    yield process, endpoint_id, base
    process.stop()


def _create(controller: ControllerProcess, **body: Any) -> dict[str, Any]:
    with controller.client() as client:
        response = client.post("/checks", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _standing(controller: ControllerProcess, endpoint_id: str, check_id: int) -> dict[str, Any]:
    with controller.client() as client:
        response = client.get(f"/endpoints/{endpoint_id}/checks")
    assert response.status_code == 200, response.text
    found = [s for s in response.json() if s["check"]["id"] == check_id]
    return dict(found[0]) if found else {}


def _status(controller: ControllerProcess, endpoint_id: str, check_id: int) -> str | None:
    state = _standing(controller, endpoint_id, check_id).get("state")
    return state["status"] if state else None


def _results(controller: ControllerProcess, check_id: int, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    with controller.client() as client:
        while True:
            params = {**filters, "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"/checks/{check_id}/results", params=params)
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return items


def _epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).timestamp()


def test_a_process_that_must_not_run_fails_then_recovers(
    controller: ControllerProcess, agent: tuple[AgentProcess, str, Path]
) -> None:
    _, endpoint_id, base = agent
    name = f"dskchk-{uuid.uuid4().hex[:6]}"  # a distinctive process name (the binary's)
    binary = base / name
    shutil.copy("/bin/sleep", binary)
    probe = subprocess.Popen([str(binary), "300"])
    try:
        check = _create(
            controller,
            name=f"no {name}",
            check="process.absent",
            params={"name": name},
            endpoint_ids=[endpoint_id],
            interval_s=1,
        )
        wait_for(lambda: _status(controller, endpoint_id, check["id"]) == "fail", 30, "fail")
        last = _standing(controller, endpoint_id, check["id"])["last_result"]
        assert last["value"] == 1 and name in last["message"]
        assert last["evidence"]["action"] == "process.list"
        assert last["evidence"]["data"]["processes"][0]["pid"] == probe.pid
    finally:
        probe.kill()
        probe.wait()
    wait_for(lambda: _status(controller, endpoint_id, check["id"]) == "ok", 30, "back to ok")
    history = _results(controller, check["id"], endpoint_id=endpoint_id)
    ids = [r["id"] for r in history]
    assert ids == sorted(ids, reverse=True), "newest first"
    statuses = {r["status"] for r in history}
    assert {"ok", "fail"} <= statuses
    fails = _results(controller, check["id"], status="fail")
    assert fails and all(r["status"] == "fail" for r in fails)


def test_disk_free_on_a_path_by_tag_with_thresholds(
    controller: ControllerProcess, agent: tuple[AgentProcess, str, Path]
) -> None:
    _, endpoint_id, base = agent
    check = _create(
        controller,
        name=f"space-{uuid.uuid4().hex[:6]}",
        check="disk.free",
        params={"path": str(base)},
        thresholds={"warn_below_percent": 0.02, "fail_below_percent": 0.01},
        tags=["checks"],
        interval_s=2,
    )
    assert check["thresholds"]["fail_below_percent"] == 0.01
    wait_for(lambda: _status(controller, endpoint_id, check["id"]) == "ok", 30, "disk ok")
    last = _standing(controller, endpoint_id, check["id"])["last_result"]
    assert 0 < last["value"]["free_percent"] <= 100 and last["evidence"]["action"] == "disk.usage"
    # Tighten the thresholds: the agent gets the new version and warns.
    with controller.client() as client:
        changed = client.patch(
            f"/checks/{check['id']}",
            json={"thresholds": {"warn_below_percent": 100, "fail_below_percent": 0}},
        )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] > check["version"]
    wait_for(lambda: _status(controller, endpoint_id, check["id"]) == "warn", 30, "disk warn")


def test_the_local_policy_turns_a_forbidden_check_into_an_error(
    controller: ControllerProcess, agent: tuple[AgentProcess, str, Path]
) -> None:
    _, endpoint_id, _ = agent
    check = _create(
        controller,
        name=f"etc-{uuid.uuid4().hex[:6]}",
        check="disk.free",
        params={"path": "/etc"},  # outside the policy's allowed_paths
        endpoint_ids=[endpoint_id],
        interval_s=5,
    )
    wait_for(lambda: _status(controller, endpoint_id, check["id"]) == "error", 30, "error")
    last = _standing(controller, endpoint_id, check["id"])["last_result"]
    assert "policy_denied" in last["message"] and "outside the paths" in last["message"]
    with controller.client() as client:
        assert client.delete(f"/checks/{check['id']}").status_code == 204
        assert client.get(f"/checks/{check['id']}").status_code == 404


def test_bad_definitions_and_roles_are_refused(
    controller: ControllerProcess,
    agent: tuple[AgentProcess, str, Path],
    role_tokens: dict[str, str],
) -> None:
    _, endpoint_id, _ = agent
    good = {"name": "x", "check": "disk.free", "endpoint_ids": [endpoint_id], "interval_s": 60}
    cases = [
        ({**good, "check": "disk.full"}, "check"),
        ({**good, "params": {"path": "tmp"}}, "params.path"),
        ({**good, "thresholds": {"warn_below_percent": 1, "fail_below_percent": 2}}, "thresholds"),
        ({**good, "cron": "* * * * *"}, "interval_s"),
        ({**good, "interval_s": None, "cron": "not cron"}, "cron"),
        ({**good, "endpoint_ids": ["nope"]}, "endpoint_ids[0]"),
        ({**good, "endpoint_ids": []}, "endpoint_ids"),
        ({**good, "playbook": "disk-ful-temp"}, "playbook"),
        # Refused now, not when the first fault needs the fix.
        ({**good, "playbook": "service-down"}, "playbook_inputs.service"),
        (
            {**good, "playbook": "service-down", "playbook_inputs": {"servce": "cups"}},
            "playbook_inputs.servce",
        ),
        (
            {**good, "playbook": "service-down", "playbook_inputs": {"service": 5}},
            "playbook_inputs.service",
        ),
        ({**good, "playbook_inputs": {"service": "cups"}}, "playbook_inputs"),
    ]
    with controller.client() as client:
        for body, field in cases:
            response = client.post("/checks", json=body)
            assert response.status_code == 422, (body, response.text)
            loc = response.json()["detail"][0]["loc"]
            assert ".".join(str(p) for p in loc[1:]) == field, (field, response.text)
        fixed = {"playbook": "service-down", "playbook_inputs": {"service": "cups"}}
        created = client.post("/checks", json={**good, "name": "inputs checked", **fixed})
        assert created.status_code == 201, created.text
        check_id = created.json()["id"]
        bad_patch = client.patch(f"/checks/{check_id}", json={"playbook_inputs": {"nope": 1}})
        assert bad_patch.status_code == 422, bad_patch.text
        assert bad_patch.json()["detail"][0]["loc"] == ["body", "playbook_inputs", "nope"]
        assert client.get(f"/checks/{check_id}").json()["playbook_inputs"] == {"service": "cups"}
        assert client.delete(f"/checks/{check_id}").status_code == 204
    with controller.client(role_tokens["tier1"]) as tier1:
        assert tier1.post("/checks", json=good).status_code == 403
        assert tier1.get("/checks").status_code == 200
    with controller.client(role_tokens["usa"]) as usa:
        tags_only = {**good, "endpoint_ids": [], "tags": ["checks"]}
        response = usa.post("/checks", json=tags_only)
        assert response.status_code == 422 and "site_id" in response.text


def test_results_taken_while_the_controller_is_down_arrive_once(
    controller: ControllerProcess, agent: tuple[AgentProcess, str, Path], database: str
) -> None:
    process, endpoint_id, base = agent
    check = _create(
        controller,
        name=f"offline-{uuid.uuid4().hex[:6]}",
        check="process.absent",
        params={"name": "dskchk-none"},
        endpoint_ids=[endpoint_id],
        interval_s=1,
    )
    wait_for(lambda: _status(controller, endpoint_id, check["id"]) == "ok", 30, "first result")
    controller.stop()
    down_at = time.time()
    wait_for(lambda: _spooled_results(base / "agent", check["id"]) >= 3, 30, "results spooled")
    up_at = time.time()
    controller.restart()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "online after restart")
    wait_for(lambda: _spooled(process.command("status").stdout) == 0, 30, "spool drained")
    taken_offline = [
        r
        for r in _results(controller, check["id"], endpoint_id=endpoint_id)
        if down_at < _epoch(r["at"]) < up_at
    ]
    assert len(taken_offline) >= 2, "results measured while the controller was down are missing"
    rows = query(
        database,
        "SELECT endpoint_id, check_id, at, COUNT(*) FROM check_results "
        "GROUP BY endpoint_id, check_id, at HAVING COUNT(*) > 1",
    )
    assert rows == []


def _spooled_results(state_dir: Path, check_id: int) -> int:
    """Results of the check waiting in the agent's spool (read beside the running agent)."""
    with contextlib.closing(
        sqlite3.connect(f"file:{state_dir / 'spool.db'}?mode=ro", uri=True)
    ) as db:
        payloads = [row[0] for row in db.execute("SELECT payload FROM outbox")]
    durables = [agent_pb2.Durable.FromString(p) for p in payloads]
    return sum(d.HasField("check_result") and d.check_result.check_id == check_id for d in durables)


def _spooled(status_json: str) -> int:
    spool = json.loads(status_json)["spool"]
    return int(spool["last_seq"]) - int(spool["last_acked"])


def test_a_new_tag_brings_its_checks_to_a_connected_agent_at_once(
    controller: ControllerProcess, agent: tuple[AgentProcess, str, Path]
) -> None:
    _, endpoint_id, base = agent
    tag = f"later-{uuid.uuid4().hex[:6]}"
    check = _create(
        controller,
        name=f"tagged-{tag}",
        check="disk.free",
        params={"path": str(base)},
        tags=[tag],
        interval_s=1,
    )
    assert _results(controller, check["id"]) == []
    with controller.client() as client:
        tags = client.get(f"/endpoints/{endpoint_id}").json()["tags"]
        moved = client.patch(f"/endpoints/{endpoint_id}", json={"tags": [*tags, tag]})
        assert moved.status_code == 200, moved.text
    # No reconnect: the controller sent the new set on the agent's open stream.
    wait_for(lambda: _results(controller, check["id"]), 30, "results of the tag's check")
    with controller.client() as client:
        client.patch(f"/endpoints/{endpoint_id}", json={"tags": tags})
        assert client.delete(f"/checks/{check['id']}").status_code == 204
