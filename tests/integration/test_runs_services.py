"""A real SysV-managed daemon, restarted through the whole run path: its PID changes.

The daemon's init script is installed into /etc/init.d for the module and removed
afterwards; it needs root, which CI has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import require_or_skip
from processes import AgentProcess, ControllerProcess, wait_for

NAME = "deskside-testd"
INIT_SCRIPT = Path("/etc/init.d") / NAME
PIDFILE = Path("/run") / f"{NAME}.pid"
TERMINAL = {"succeeded", "failed", "cancelled", "expired", "interrupted"}


@pytest.fixture(scope="module")
def daemon() -> Iterator[str]:
    require_or_skip(None if os.geteuid() == 0 else "installing an init script needs root")
    require_or_skip(
        None if shutil.which("start-stop-daemon") else "start-stop-daemon (dpkg) is missing"
    )
    if Path("/run/systemd/system").is_dir():
        pytest.skip("this machine runs systemd: the SysV path is not the one the agent takes")
    shutil.copyfile(Path(__file__).parents[1] / "fixtures" / f"{NAME}.init", INIT_SCRIPT)
    INIT_SCRIPT.chmod(0o755)
    subprocess.run(["service", NAME, "start"], check=True)
    try:
        yield NAME
    finally:
        subprocess.run(["service", NAME, "stop"], check=False)
        INIT_SCRIPT.unlink(missing_ok=True)
        PIDFILE.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def endpoint(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    agent = AgentProcess(tmp_path_factory.mktemp("services") / "agent")
    endpoint_id = agent.enroll(controller, controller.enrollment_token())
    agent.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
    yield endpoint_id
    agent.stop()


def _run(
    controller: ControllerProcess, endpoint_id: str, action: str, name: str = NAME, **extra: Any
) -> dict[str, Any]:
    with controller.client() as client:
        body = {"endpoint_id": endpoint_id, "action": action, "params": {"name": name}, **extra}
        created = client.post("/runs", json=body)
        assert created.status_code == 201, created.text
        run_id = created.json()["items"][0]["id"]
        return dict(
            wait_for(
                lambda: (r := client.get(f"/runs/{run_id}").json())["state"] in TERMINAL and r,
                60,
                action,
            )
        )


def _pid() -> int:
    return int(PIDFILE.read_text().split()[0])


def test_status_reports_the_running_daemon_and_its_pid(
    controller: ControllerProcess, endpoint: str, daemon: str
) -> None:
    run = _run(controller, endpoint, "service.status")
    assert run["state"] == "succeeded", run
    assert run["result"]["data"] == {
        "name": NAME,
        "manager": "sysv",
        "state": "running",
        "pid": _pid(),
    }


def test_restart_changes_the_pid_and_records_before_and_after(
    controller: ControllerProcess, endpoint: str, daemon: str
) -> None:
    before = _pid()
    run = _run(controller, endpoint, "service.restart")
    assert run["state"] == "succeeded", run
    after = _pid()
    assert after != before
    evidence = run["result"]["evidence"]
    assert (evidence["before"]["pid"], evidence["after"]["pid"]) == (before, after)
    assert evidence["after"]["state"] == "running" and run["result"]["changed"] is True
    assert subprocess.run(["service", NAME, "status"]).returncode == 0


def test_dry_run_restart_leaves_the_daemon_alone(
    controller: ControllerProcess, endpoint: str, daemon: str
) -> None:
    before = _pid()
    run = _run(controller, endpoint, "service.restart", dry_run=True)
    assert run["state"] == "succeeded" and run["result"]["changed"] is False
    assert f"would restart {NAME}: running, pid {before}" == run["result"]["output"]
    assert _pid() == before


def test_stop_then_start(controller: ControllerProcess, endpoint: str, daemon: str) -> None:
    stopped = _run(controller, endpoint, "service.stop")
    assert (
        stopped["state"] == "succeeded"
        and stopped["result"]["evidence"]["after"]["state"] == "stopped"
    )
    assert subprocess.run(["service", NAME, "status"]).returncode != 0
    started = _run(controller, endpoint, "service.start")
    assert (
        started["state"] == "succeeded"
        and started["result"]["evidence"]["after"]["state"] == "running"
    )


def test_an_unknown_service_is_not_found(controller: ControllerProcess, endpoint: str) -> None:
    run = _run(controller, endpoint, "service.restart", name="no-such-service")
    assert run["state"] == "failed" and run["result"]["error"]["code"] == "not_found"
