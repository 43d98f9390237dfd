"""`deskside checks|incidents|maintenance|automation|playbooks` against a real controller,
through the installed command, as an analyst would type it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from analyst_cli import Deskside, deskside_for
from processes import AgentProcess, ControllerProcess


@pytest.fixture(scope="module")
def deskside(controller: ControllerProcess) -> Deskside:
    return deskside_for(controller)


@pytest.fixture(scope="module")
def endpoint_id(controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Enrolled, never started: the controller knows it, nothing answers for it."""
    agent = AgentProcess(Path(tmp_path_factory.mktemp("cli-automation")) / "agent")
    return agent.enroll(controller, controller.enrollment_token())


@pytest.fixture(scope="module")
def check(controller: ControllerProcess, endpoint_id: str) -> dict[str, Any]:
    body = {
        "name": "cli-cron-running",
        "check": "service.running",
        "params": {"name": "cron"},
        "endpoint_ids": [endpoint_id],
        "interval_s": 300,
        "playbook": "service-down",
        "playbook_inputs": {"service": "cron"},
    }
    with controller.client() as admin:
        response = admin.post("/checks", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_checks_are_listed_and_shown(
    deskside: Deskside, check: dict[str, Any], endpoint_id: str
) -> None:
    table = _ok(deskside("checks", "ls"))
    assert "cli-cron-running" in table and "service-down" in table and "every 300 s" in table
    listed = json.loads(_ok(deskside("checks", "ls", "--json")))
    assert check["id"] in [c["id"] for c in listed]
    shown = json.loads(_ok(deskside("checks", "show", str(check["id"]), "--json")))
    assert shown["endpoint_ids"] == [endpoint_id] and shown["playbook"] == "service-down"
    assert "service.running" in _ok(deskside("checks", "show", str(check["id"])))
    results = deskside("checks", "results", str(check["id"]), "--status", "fail", "--json")
    assert json.loads(_ok(results)) == [], "the agent never ran"
    standings = json.loads(_ok(deskside("checks", "endpoint", endpoint_id, "--json")))
    assert [s["check"]["id"] for s in standings] == [check["id"]]
    assert standings[0]["state"] is None and standings[0]["last_result"] is None
    assert "none yet" in _ok(deskside("checks", "endpoint", endpoint_id))
    assert deskside("checks", "show", "99999999").returncode == 3


def test_incidents_list_silence_and_acknowledge(
    deskside: Deskside, check: dict[str, Any], endpoint_id: str
) -> None:
    assert "acknowledged by" in _ok(deskside("incidents", "ls"))
    assert json.loads(_ok(deskside("incidents", "ls", "--json"))) == []
    pair = (str(check["id"]), endpoint_id)
    unknown = deskside("incidents", "silence", *pair, "--for", "2h", "--reason", "patching")
    assert unknown.returncode == 3, unknown.stdout + unknown.stderr
    assert deskside("incidents", "ack", *pair).returncode == 3
    bad = deskside("incidents", "silence", *pair, "--for", "5x", "--reason", "patching")
    assert bad.returncode == 2 and "--for" in bad.stdout + bad.stderr


def test_a_maintenance_window_is_opened_listed_and_closed(
    deskside: Deskside, endpoint_id: str
) -> None:
    opened = deskside(
        "maintenance", "open", "--endpoint", endpoint_id, "--for", "2h", "--reason", "RAM swap",
        "--json",
    )  # fmt: skip
    window = json.loads(_ok(opened))
    assert window["endpoint_id"] == endpoint_id and window["reason"] == "RAM swap"
    listed = json.loads(_ok(deskside("maintenance", "ls", "--json")))
    assert window["id"] in [w["id"] for w in listed]
    assert "RAM swap" in _ok(deskside("maintenance", "ls"))
    assert "closed" in _ok(deskside("maintenance", "close", str(window["id"])))
    assert window["id"] not in [
        w["id"] for w in json.loads(_ok(deskside("maintenance", "ls", "--json")))
    ]
    history = json.loads(_ok(deskside("maintenance", "ls", "--ended", "--json")))
    assert window["id"] in [w["id"] for w in history]
    assert deskside("maintenance", "close", "99999999").returncode == 3
    both = deskside("maintenance", "open", "--for", "1h", "--reason", "x")
    assert both.returncode == 2 and "--site" in both.stdout
    late = deskside(
        "maintenance", "open", "--site", "1", "--for", "1h", "--reason", "x", "--from", "soon"
    )
    assert late.returncode == 2 and "--from" in late.stdout


def test_automation_is_paused_and_resumed(deskside: Deskside) -> None:
    paused = json.loads(_ok(deskside("automation", "pause", "--reason", "change freeze", "--json")))
    assert paused["paused"] and paused["reason"] == "change freeze"
    status = _ok(deskside("automation", "status"))
    assert "paused" in status and "change freeze" in status
    assert json.loads(_ok(deskside("automation", "resume", "--json")))["paused"] is False
    assert "running" in _ok(deskside("automation", "status"))


def test_the_library_and_a_dry_run(deskside: Deskside, endpoint_id: str) -> None:
    assert "service-down" in _ok(deskside("playbooks", "ls"))
    names = [b["name"] for b in json.loads(_ok(deskside("playbooks", "ls", "--json")))]
    assert "slow-machine" in names
    assert "process.list" in _ok(deskside("playbooks", "show", "slow-machine"))
    assert deskside("playbooks", "show", "no-such-book").returncode == 3
    run = ("playbooks", "run", "slow-machine", "--endpoint", endpoint_id)
    bad = deskside(*run, "--input", "max_cpu=lots", "--dry-run")
    assert bad.returncode == 2 and "--input" in bad.stdout and "max_cpu" in bad.stdout
    unknown = deskside(*run, "--input", "colour=red", "--dry-run")
    assert unknown.returncode == 2 and "--input" in unknown.stdout
    planned = deskside(*run, "--input", "max_cpu=80", "--dry-run", "--wait", "1")
    out = planned.stdout
    assert "slow-machine" in out and "(dry run)" in out
    # 0 only when it succeeded within the second; 4 when it did not (or had not ended yet).
    header = next(line for line in out.splitlines() if line.startswith("slow-machine (dry"))
    state = header.split()[3]
    assert state in ("queued", "running", "succeeded", "failed"), header
    assert planned.returncode == (0 if state == "succeeded" else 4), out + planned.stderr
    created = json.loads(_ok(deskside(*run, "--dry-run", "--wait", "0", "--json")))
    (item,) = created["items"]
    assert item["dry_run"] and item["endpoint_id"] == endpoint_id
    status = json.loads(_ok(deskside("playbooks", "status", item["id"], "--json")))
    assert status["id"] == item["id"] and status["playbook"] == "slow-machine"
    assert "slow-machine" in _ok(deskside("playbooks", "status", item["id"]))
    assert deskside("playbooks", "status", "no-such-run").returncode == 3
