"""stuck-print-queue and clock-drift against a real agent, the fault injected for real.

Printing: a private CUPS scheduler for the module, with its own configuration, spool and
socket in a temporary directory, so the machine's printing is left alone; the agent and
the test reach it through CUPS_SERVER. Its queues are disabled, so jobs sent to them wait:
a stuck queue. Clock: a test cannot move the clock of the machine it runs on, so the
fault is on the reference's side: an SNTP server on loopback whose clock runs ahead.
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
from playbook_runs import (
    TEAM,
    assert_on_timeline,
    escalation,
    open_ticket,
    play,
    start_agent,
)
from processes import ControllerProcess, wait_for
from sntp_server import SntpServer

CUPS_TOOLS = ("cupsd", "lpadmin", "lp", "lpstat", "cancel", "cupsdisable")
SYNC_TOOLS = ("chronyc", "sntp", "ntpdate")
DRIFT_S = 120.0


class Cupsd:
    """cupsd in the foreground, everything it reads and writes under `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "cups.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        for sub in ("spool", "cache", "state", "tmp", "log"):
            (self.directory / sub).mkdir()
        root = self.directory
        files = root / "cups-files.conf"
        files.write_text(
            f"ServerRoot {root}\nRequestRoot {root}/spool\nCacheDir {root}/cache\n"
            f"StateDir {root}/state\nTempDir {root}/tmp\nErrorLog {root}/log/error_log\n"
            f"AccessLog {root}/log/access_log\nPageLog {root}/log/page_log\n"
            "SystemGroup root\n"
            "FileDevice Yes\n"  # else lpadmin refuses the queues' file:///dev/null device
        )
        # The socket is in pytest's temporary directory, which only this user can enter:
        # nobody else can ask, so nobody is asked to authenticate.
        conf = root / "cupsd.conf"
        conf.write_text(
            f"Listen {self.socket}\nBrowsing No\nWebInterface No\nLogLevel warn\n"
            "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
        )
        with open(root / "log" / "cupsd.out", "wb") as out:
            self.process = subprocess.Popen(
                ["cupsd", "-f", "-c", str(conf), "-s", str(files)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, 30, "cupsd answering on its socket")

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"cupsd exited:\n{self.log()}")
        asked = self.lp_tool("lpstat", "-r", check=False)  # exits 0 either way
        return asked.stdout.strip() == "scheduler is running"

    def log(self) -> str:
        logs = sorted((self.directory / "log").glob("*"))
        return "\n".join(path.read_text(errors="replace") for path in logs)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"cupsd did not stop on SIGTERM:\n{self.log()}") from None

    def lp_tool(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CUPS_SERVER": str(self.socket), "LC_ALL": "C"}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        assert not check or done.returncode == 0, f"{argv}: {done.stderr}\n{self.log()}"
        return done

    def jobs(self, queue: str) -> list[str]:
        """The ids of the jobs waiting in the queue, as lpstat lists them."""
        listed = self.lp_tool("lpstat", "-o", queue).stdout
        return [line.split()[0] for line in listed.splitlines() if line.strip()]

    def stuck_queue(self, queue: str, jobs: int) -> list[str]:
        """A disabled queue with `jobs` jobs waiting in it: their ids."""
        self.lp_tool("lpadmin", "-p", queue, "-E", "-v", "file:///dev/null")
        self.lp_tool("cupsdisable", queue)
        page = self.directory / "page.txt"
        page.write_text("a page that never prints\n")
        sent = [self.lp_tool("lp", "-d", queue, str(page)).stdout for _ in range(jobs)]
        return [line.split()[3] for line in sent]  # "request id is office-1 (1 file(s))"


@pytest.fixture(scope="module")
def cups_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's cupsd lives, known before it starts: the agent is told it."""
    return tmp_path_factory.mktemp("cups")


@pytest.fixture(scope="module")
def cupsd(cups_dir: Path) -> Iterator[Cupsd]:
    require_or_skip(None if os.geteuid() == 0 else "a private cupsd needs root")
    missing = [tool for tool in CUPS_TOOLS if shutil.which(tool) is None]
    require_or_skip(f"CUPS missing: {', '.join(missing)}" if missing else None)
    scheduler = Cupsd(cups_dir)
    try:
        scheduler.start()
        yield scheduler
    finally:
        try:
            scheduler.stop()
        finally:
            shutil.rmtree(cups_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def endpoint(
    controller: ControllerProcess, cups_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("print-clock")
    agent, endpoint_id = start_agent(controller, directory, CUPS_SERVER=str(cups_dir / "cups.sock"))
    yield endpoint_id
    agent.stop()


def test_a_stuck_print_queue_is_emptied(
    controller: ControllerProcess, endpoint: str, cupsd: Cupsd
) -> None:
    ids = cupsd.stuck_queue("office", 3)
    assert cupsd.jobs("office") == ids, "the jobs wait: the queue is stuck for real"
    ticket = open_ticket(controller, "my document does not print")
    run = play(controller, endpoint, "stuck-print-queue", {"printer": "office"}, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    assert cupsd.jobs("office") == [], "cancelled for real"
    (clear,) = run["steps"]
    assert clear["changed"] and clear["evidence"] == {"before": ids, "after": []}
    assert [job["id"] for job in clear["data"]["jobs"]] == ids
    assert clear["data"]["remaining"] == []
    assert_on_timeline(controller, run)


def test_an_empty_print_queue_is_left_alone(
    controller: ControllerProcess, endpoint: str, cupsd: Cupsd
) -> None:
    cupsd.stuck_queue("idle", 0)
    run = play(controller, endpoint, "stuck-print-queue", {"printer": "idle"})
    assert run["state"] == "succeeded", run["summary"]
    (clear,) = run["steps"]
    assert not clear["changed"] and clear["data"] == {"jobs": []}
    assert clear["output"] == "no jobs waiting in idle"


def test_a_print_queue_dry_run_cancels_nothing(
    controller: ControllerProcess, endpoint: str, cupsd: Cupsd
) -> None:
    ids = cupsd.stuck_queue("drafts", 2)
    try:
        ticket = open_ticket(controller, "dry run of stuck-print-queue")
        run = play(
            controller,
            endpoint,
            "stuck-print-queue",
            {"printer": "drafts"},
            ticket_id=ticket,
            dry_run=True,
        )
        assert run["state"] == "succeeded" and run["dry_run"], run["summary"]
        assert cupsd.jobs("drafts") == ids
        (clear,) = run["steps"]
        assert clear["dry_run"] and not clear["changed"]
        assert "[would change] action clear: print.clear_queue" in run["summary"]
        assert "would cancel 2 jobs in drafts" in run["summary"]
        assert_on_timeline(controller, run)
    finally:
        cupsd.lp_tool("cancel", "-a", "drafts")


# -- clock-drift -----------------------------------------------------------------------------


@pytest.fixture
def ntp() -> Iterator[SntpServer]:
    server = SntpServer(offset=0.0)
    yield server
    server.close()


@pytest.fixture
def no_sync_tool() -> None:
    """time.sync would step this machine's clock with any of these: none may be here."""
    found = [tool for tool in SYNC_TOOLS if shutil.which(tool)]
    require_or_skip(
        f"{', '.join(found)} on PATH: a real clock-drift run would move this machine's clock"
        if found
        else None
    )


def _steps(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in run["steps"]}


def test_a_clock_in_step_is_not_synced(
    controller: ControllerProcess, endpoint: str, ntp: SntpServer
) -> None:
    run = play(controller, endpoint, "clock-drift", {"server": ntp.address})
    assert run["state"] == "succeeded", run["summary"]
    assert [s["state"] for s in run["steps"]] == ["succeeded", "skipped", "succeeded"]
    steps = _steps(run)
    assert steps["offset"]["ok"] and abs(steps["offset"]["data"]["offset_s"]) < 1
    assert steps["in_sync"]["ok"] and steps["in_sync"]["data"]["server"] == ntp.address


def test_a_drifted_clock_without_a_sync_tool_is_escalated_with_its_offset(
    controller: ControllerProcess, endpoint: str, ntp: SntpServer, no_sync_tool: None
) -> None:
    ntp.offset = DRIFT_S
    ticket = open_ticket(controller, "Kerberos logon fails: clock skew")
    run = play(controller, endpoint, "clock-drift", {"server": ntp.address}, ticket_id=ticket)
    assert run["state"] == "escalated", run["summary"]
    steps = _steps(run)
    measured = steps["offset"]["data"]["offset_s"]
    assert not steps["offset"]["ok"] and abs(measured - DRIFT_S) < 1
    sync = steps["sync"]
    assert sync["state"] == "failed" and sync["error"]["code"] == "not_supported"
    assert abs(sync["evidence"]["before"]["offset_s"] - DRIFT_S) < 1
    # A failed action ends the steps: the verification never runs.
    assert "in_sync" not in steps
    body = escalation(controller, ticket)
    assert f"is {round(measured, 1)} s off {ntp.address} (limit 5 s)" in body
    assert "the sync ended failed: cannot step the clock" in body
    assert_on_timeline(controller, run)


def test_a_clock_drift_dry_run_escalates_nothing(
    controller: ControllerProcess, endpoint: str, ntp: SntpServer, no_sync_tool: None
) -> None:
    ntp.offset = DRIFT_S
    ticket = open_ticket(controller, "dry run of clock-drift")
    inputs = {"server": ntp.address}
    run = play(controller, endpoint, "clock-drift", inputs, ticket_id=ticket, dry_run=True)
    assert run["state"] == "failed" and run["dry_run"], run["summary"]
    steps = _steps(run)
    assert abs(steps["offset"]["data"]["offset_s"] - DRIFT_S) < 1
    assert steps["sync"]["dry_run"] and steps["sync"]["error"]["code"] == "not_supported"
    assert f"would escalate to {TEAM}" in run["summary"]
    with controller.client() as client:
        assert client.get(f"/tickets/{ticket}").json()["escalation_level"] == 0
    assert_on_timeline(controller, run)
