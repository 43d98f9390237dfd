"""`deskside playbook run` and `deskside tickets` against a real controller and two real
agents, through the installed command: live bars, the summary, --json, exit codes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from analyst_cli import Deskside, deskside_for
from databases import fresh_database
from processes import ADMIN_TOKEN, BIN, AgentProcess, ControllerProcess, wait_for

from controller.demo.fleet import can_name_hosts, host_launcher

TAG = "cli-playbooks"
HOSTS = ("pb-host-1", "pb-host-2")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A client of the API, which the storage suites test on both backends.
    with fresh_database("sqlite", tmp_path_factory.mktemp("sqlite")) as url:
        yield url


@pytest.fixture(scope="module")
def deskside(controller: ControllerProcess) -> Deskside:
    return deskside_for(controller)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-playbooks-work")


@pytest.fixture(scope="module")
def endpoints(
    controller: ControllerProcess, work: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Two agents tagged TAG, each under a hostname of its own where the machine allows it,
    allowed medium risk and paths under `work` only. {endpoint id: hostname}"""
    own_names = can_name_hosts()
    agents, found = [], {}
    for name in HOSTS:
        state = Path(tmp_path_factory.mktemp(name)) / "agent"
        agent = AgentProcess(state, launcher=host_launcher(name) if own_names else ())
        endpoint_id = agent.enroll(controller, controller.enrollment_token(tags=[TAG]))
        (state / "policy.toml").write_text(f'max_risk = "medium"\nallowed_paths = ["{work}"]\n')
        agents.append(agent.start())
        found[endpoint_id] = name
    for endpoint_id in found:
        wait_for(lambda e=endpoint_id: controller.endpoint(e)["online"], 60, "agent online")
        found[endpoint_id] = controller.endpoint(endpoint_id)["hostname"]
    yield found
    for agent in agents:
        agent.stop()


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_a_playbook_on_many_hosts_shows_a_bar_per_host_then_a_summary(
    controller: ControllerProcess, endpoints: dict[str, str], tmp_path: Path
) -> None:
    # As on an analyst's terminal: Rich draws the live bars only there.
    env = {
        "DESKSIDE_URL": controller.url,
        "DESKSIDE_TOKEN": ADMIN_TOKEN,
        "COLUMNS": "200",
        "TTY_COMPATIBLE": "1",
        "TTY_INTERACTIVE": "1",
        "PATH": "/usr/bin:/bin",
    }
    argv = ["playbook", "run", "runaway-process", "--tag", TAG, "--input", "name=nosuchhog"]
    shown = subprocess.run(
        [str(BIN / "deskside"), *argv], env=env, capture_output=True, text=True, timeout=300
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "\x1b[" in shown.stdout, "no live display drawn"
    assert "/4" in shown.stdout, "no per-host step count (4 steps)"
    summary = shown.stdout.rsplit("runaway-process", 1)[-1]
    for hostname in endpoints.values():
        assert hostname in summary
    assert summary.count("succeeded") == len(endpoints), summary
    assert summary.count("nothing to change") == len(endpoints), summary


def test_json_lists_every_run_with_its_steps(deskside: Deskside, endpoints: dict[str, str]) -> None:
    ran = _json(
        deskside(
            "playbook", "run", "runaway-process", "--tag", TAG, "--input", "name=nosuchhog",
            "--json",
        )
    )  # fmt: skip
    assert ran["batch_id"] is not None
    assert sorted(r["endpoint_id"] for r in ran["items"]) == sorted(endpoints)
    for run in ran["items"]:
        assert run["state"] == "succeeded"
        assert [s["id"] for s in run["steps"]] == ["find", "stop", "kill", "gone"]


def test_a_failed_playbook_exits_4_and_says_why(
    deskside: Deskside, endpoints: dict[str, str], work: Path
) -> None:
    endpoint_id = next(iter(endpoints))
    # Outside the agent's allowed paths: its policy refuses, the playbook fails.
    inputs = ["--input", "path=/usr/share", "--input", "max_bytes=1"]
    failed = deskside("playbook", "run", "disk-full-temp", "--on", endpoint_id, *inputs)
    assert failed.returncode == 4, failed.stdout + failed.stderr
    assert "failed" in failed.stdout and endpoints[endpoint_id] in failed.stdout
    as_json = deskside("playbook", "run", "disk-full-temp", "--on", endpoint_id, *inputs, "--json")
    assert as_json.returncode == 4
    (run,) = json.loads(as_json.stdout)["items"]
    assert run["state"] == "failed" and "outside the paths allowed" in json.dumps(run["steps"])


def test_bad_usage_and_unknown_names(deskside: Deskside, endpoints: dict[str, str]) -> None:
    nowhere = deskside("playbook", "run", "runaway-process", "--input", "name=x")
    assert nowhere.returncode == 2 and "--on" in nowhere.stdout
    unknown = deskside("playbook", "run", "no-such-book", "--tag", TAG)
    assert unknown.returncode == 3
    started = _json(
        deskside(
            "playbook", "run", "runaway-process", "--on", next(iter(endpoints)),
            "--input", "name=nosuchhog", "--wait", "0", "--json",
        )
    )  # fmt: skip
    (run,) = started["items"]
    assert run["state"] in ("queued", "running", "succeeded")  # started, not followed


def test_tickets_round_trip_by_team_name_with_json(
    deskside: Deskside, controller: ControllerProcess, endpoints: dict[str, str]
) -> None:
    with controller.client() as admin:
        for name in ("Service Desk", "Tier 2"):
            made = admin.post("/teams", json={"name": name})
            assert made.status_code in (201, 409), made.text
        teams = {t["name"]: t["id"] for t in admin.get("/teams").json()["items"]}
        me = admin.get("/me").json()["user"]
    endpoint_id = next(iter(endpoints))
    opened = _json(
        deskside(
            "tickets", "new", "Laptop fan never stops", "--team", "service desk",
            "--endpoint", endpoint_id, "--impact", "2", "--json",
        )
    )  # fmt: skip
    number = str(opened["id"])
    assert opened["team_id"] == teams["Service Desk"]
    assert _json(deskside("tickets", "take", number, "--json"))["assignee_id"] == me["id"]
    commented = deskside("tickets", "comment", number, "Fan at 100% on idle", "--json")
    assert _json(commented)["id"] == opened["id"]
    escalated = _json(
        deskside(
            "tickets", "escalate", number, "--team", "Tier 2", "--reason", "hardware", "--json"
        )
    )
    assert escalated["team_id"] == teams["Tier 2"]
    queue = _json(deskside("tickets", "ls", "--team", "Tier 2", "--json"))
    assert opened["id"] in [t["id"] for t in queue]
    shown = _json(deskside("tickets", "show", number, "--json"))
    kinds = [e["kind"] for e in shown["timeline"]]
    assert "comment" in kinds and shown["ticket"]["team_id"] == teams["Tier 2"]
    no_team = deskside("tickets", "ls", "--team", "Nobody Here")
    assert no_team.returncode == 3 and "--team" in no_team.stdout
    assert deskside("tickets", "comment", "99999999", "hello").returncode == 3
