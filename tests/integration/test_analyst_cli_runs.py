"""`deskside run`, `kb search` and `endpoints test` against a real controller and agent,
through the installed command, with the exit codes scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from analyst_cli import Deskside, deskside_for
from processes import ADMIN_TOKEN, BIN, AgentProcess, ControllerProcess, wait_for


@pytest.fixture(scope="module")
def deskside(controller: ControllerProcess) -> Deskside:
    return deskside_for(controller)


@pytest.fixture(scope="module")
def endpoint_id(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    agent = AgentProcess(Path(tmp_path_factory.mktemp("cli-runs")) / "agent")
    endpoint = agent.enroll(controller, controller.enrollment_token(tags=["cli-runs"]))
    agent.start()
    wait_for(lambda: controller.endpoint(endpoint)["online"], 30, "agent online")
    yield endpoint
    agent.stop()


def test_a_run_is_followed_to_its_end_with_a_table_by_host(
    deskside: Deskside, controller: ControllerProcess, endpoint_id: str
) -> None:
    done = deskside("run", "file.stat", "--on", endpoint_id, "-p", "path=/etc/hosts")
    assert done.returncode == 0, done.stdout + done.stderr
    hostname = controller.endpoint(endpoint_id)["hostname"]
    assert "succeeded" in done.stdout and hostname in done.stdout, done.stdout
    as_json = deskside("run", "file.stat", "--tag", "cli-runs", "-p", "path=/etc/hosts", "--json")
    assert as_json.returncode == 0, as_json.stderr
    (run,) = json.loads(as_json.stdout)
    assert run["state"] == "succeeded" and run["result"]["data"]["path"] == "/etc/hosts"


def test_exit_codes_say_what_happened(deskside: Deskside, endpoint_id: str) -> None:
    failed = deskside("run", "file.stat", "--on", endpoint_id, "-p", "path=/no/such/file")
    assert failed.returncode == 4, failed.stdout + failed.stderr  # a run did not succeed
    assert "failed" in failed.stdout and "not_found" not in failed.stderr
    nowhere = deskside("run", "file.stat", "-p", "path=/etc/hosts")
    assert nowhere.returncode == 2 and "--on" in nowhere.stdout + nowhere.stderr
    refused = deskside("run", "file.stat", "--on", endpoint_id, "-p", "depth=x")
    assert refused.returncode == 1 and "params" in refused.stdout + refused.stderr
    agent_test = deskside("endpoints", "test", endpoint_id)
    assert agent_test.returncode == 1  # an agent reports by itself: not for agentless tests


def test_kb_search_finds_an_article(deskside: Deskside, controller: ControllerProcess) -> None:
    with controller.client() as admin:
        created = admin.post(
            "/kb", json={"title": "Printer jams on tray 2", "body": "Open the pelican door."}
        )
    assert created.status_code == 201, created.text
    found = deskside("kb", "search", "pelican", "--json")
    assert found.returncode == 0, found.stderr
    assert [a["id"] for a in json.loads(found.stdout)] == [created.json()["id"]]
    table = deskside("kb", "search", "pelican")
    assert "Printer jams on tray 2" in table.stdout


def test_a_saved_login_stands_in_for_the_environment(
    controller: ControllerProcess, endpoint_id: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSIDE_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "250"}

    def deskside(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "deskside"), *args], env=env, input=token, capture_output=True, text=True
        )

    assert deskside("endpoints", "ls").returncode == 2  # no token anywhere
    refused = deskside("login", "--url", controller.url, "--token-stdin", token="dsk_wrong\n")
    assert refused.returncode == 1 and not (tmp_path / "deskside" / "login.json").exists()
    saved = deskside(
        "login", "--url", controller.url, "--token-stdin", "--json", token=ADMIN_TOKEN + "\n"
    )
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert json.loads(saved.stdout)["user"] == "admin"
    login = tmp_path / "deskside" / "login.json"
    assert login.stat().st_mode & 0o777 == 0o600
    listed = deskside("endpoints", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert endpoint_id in {e["id"] for e in json.loads(listed.stdout)}
    forgot = deskside("logout", "--json")
    assert forgot.returncode == 0 and json.loads(forgot.stdout)["forgotten"] is True
    assert not login.exists()
