"""service.* on Windows and macOS: commands and parsers on recorded outputs, and the whole
action with every command answered by a recording. Nothing here ran on Windows or macOS.

The Windows recordings are Windows PowerShell 5.1's ConvertTo-Json (enums as numbers, the
form powershell.exe gives), plus one with enum names, as pwsh -EnumsAsStrings writes them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import catalogue
from agent.actions import services, services_other
from agent.actions.context import ActionContext
from agent.actions.services_other import (
    macos_control_argv,
    macos_status_argv,
    parse_launchctl_print,
    parse_windows_status,
    windows_control_argv,
    windows_status_argv,
)

RECORDED = Path(__file__).resolve().parents[1] / "recorded"

Reply = tuple[int, str, str]  # returncode, stdout, stderr


def windows(name: str) -> str:
    return (RECORDED / "windows" / "actions" / name).read_bytes().decode("utf-8")


def macos(name: str) -> str:
    return (RECORDED / "macos" / "actions" / name).read_text()


# --- Windows parser ----------------------------------------------------------------------


def test_windows_running_service_from_powershell_5_numbers() -> None:
    found = parse_windows_status("spooler", windows("get-service-running.json"), "", 0)
    assert found == {
        "name": "Spooler",
        "manager": "scm",
        "state": "running",
        "pid": 2716,
        "sub_state": "Running",
        "start_type": "Automatic",
    }


def test_windows_enum_names_read_like_numbers() -> None:
    as_names = parse_windows_status(
        "spooler", windows("get-service-running-enum-names.json"), "", 0
    )
    as_numbers = parse_windows_status("spooler", windows("get-service-running.json"), "", 0)
    assert as_names == as_numbers


def test_windows_stopped_service_has_no_pid() -> None:
    found = parse_windows_status("wuauserv", windows("get-service-stopped.json"), "", 0)
    assert found["state"] == "stopped"
    assert found["pid"] is None  # Win32_Service says 0
    assert found["start_type"] == "Manual"


def test_windows_pending_state_is_neither_running_nor_stopped() -> None:
    found = parse_windows_status("w32time", windows("get-service-stop-pending.json"), "", 0)
    assert (found["state"], found["sub_state"], found["pid"]) == ("unknown", "StopPending", 1432)


def test_windows_missing_service_and_broken_powershell() -> None:
    missing = parse_windows_status("nosuch", "", "", services_other.WIN_NOT_FOUND_EXIT)
    assert missing["state"] == "not_found"
    broken = parse_windows_status("spooler", "", "powershell.exe: access denied\r\n", 1)
    assert broken["state"] == "unknown"
    assert broken["error"] == "powershell.exe: access denied"


def test_windows_name_is_an_argument_never_script_text() -> None:
    for argv in (
        windows_status_argv("Spooler"),
        *(windows_control_argv(verb, "Spooler") for verb in ("start", "stop", "restart")),
    ):
        assert argv[:4] == ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"]
        assert len(argv) == 6
        assert argv[4].startswith("& { param($n) ") and argv[4].endswith("}")
        assert "Spooler" not in argv[4]
        assert argv[5] == "'Spooler'"
    # A single-quoted PowerShell literal, quotes doubled (the catalogue refuses them anyway).
    assert windows_status_argv("o'brien")[5] == "'o''brien'"
    assert "Restart-Service -Name $n" in windows_control_argv("restart", "x")[4]
    assert "Stop-Service -Name $n" in windows_control_argv("stop", "x")[4]
    assert "-Force" not in windows_control_argv("stop", "x")[4]


# --- macOS parser ------------------------------------------------------------------------


def test_macos_running_job_reads_top_level_state_and_pid() -> None:
    found = parse_launchctl_print("com.openssh.sshd", macos("launchctl-print-running.txt"), "", 0)
    # The coalition blocks' own "state = active" must not win.
    assert found == {
        "name": "com.openssh.sshd",
        "manager": "launchd",
        "state": "running",
        "pid": 6123,
        "sub_state": "running",
        "last_exit_code": "0",
    }


def test_macos_stopped_job() -> None:
    found = parse_launchctl_print("com.openssh.sshd", macos("launchctl-print-stopped.txt"), "", 0)
    assert (found["state"], found["sub_state"], found["pid"]) == ("stopped", "not running", None)


def test_macos_missing_job_and_other_failures() -> None:
    stderr = macos("launchctl-print-not-found.stderr.txt")
    assert parse_launchctl_print("com.example.nosuch", "", stderr, 113)["state"] == "not_found"
    assert parse_launchctl_print("com.example.nosuch", "", stderr, 1)["state"] == "not_found"
    other = parse_launchctl_print("x", "", "Operation not permitted\n", 1)
    assert (other["state"], other["error"]) == ("unknown", "Operation not permitted")


def test_macos_commands() -> None:
    assert macos_status_argv("com.example.d") == ["launchctl", "print", "system/com.example.d"]
    assert macos_control_argv("start", "a") == ["launchctl", "kickstart", "system/a"]
    assert macos_control_argv("restart", "a") == ["launchctl", "kickstart", "-k", "system/a"]
    assert macos_control_argv("stop", "a") == ["launchctl", "kill", "SIGTERM", "system/a"]
    with pytest.raises(ValueError):
        macos_control_argv("bootout", "a")


# --- the whole action, commands answered by recordings -----------------------------------


class Recorded(ActionContext):
    """Answers each command from a function of its argv, and keeps the argv it was given."""

    def __init__(self, answer: Callable[[list[str]], Reply], dry_run: bool = False) -> None:
        super().__init__(dry_run=dry_run)
        self.answer = answer
        self.calls: list[list[str]] = []

    def run(
        self,
        argv: list[str],
        timeout: float = 60.0,
        stdin: str | None = None,
        stream: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        code, out, err = self.answer(argv)
        return subprocess.CompletedProcess(argv, code, out, err)


def run_action(name: str, ctx: ActionContext, service: str) -> catalogue.ActionResult:
    result: catalogue.ActionResult = services.ACTIONS[name](
        catalogue.validate(name, {"name": service}), ctx
    )
    return result


@pytest.fixture
def on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")


@pytest.fixture
def on_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(services_other, "_MAC_POLL_SECONDS", 0.0)


def windows_service(states: list[str]) -> Callable[[list[str]], Reply]:
    """Each status call reads the next recording; control commands succeed."""
    queue = list(states)

    def answer(argv: list[str]) -> Reply:
        if "Get-Service" in argv[4]:
            return 0, windows(queue.pop(0)), ""
        return 0, "", ""

    return answer


def test_windows_status_action(on_windows: None) -> None:
    ctx = Recorded(windows_service(["get-service-running.json"]))
    result = run_action("service.status", ctx, "spooler")
    assert result.ok and result.output == "Spooler: running, pid 2716"
    assert ctx.calls == [windows_status_argv("spooler")]


def test_windows_stop_records_before_and_after(on_windows: None) -> None:
    ctx = Recorded(windows_service(["get-service-running.json", "get-service-stopped.json"]))
    result = run_action("service.stop", ctx, "Spooler")
    assert result.ok and result.changed
    assert result.evidence.before["state"] == "running"
    assert result.evidence.after["state"] == "stopped"
    assert ctx.calls[1] == windows_control_argv("stop", "Spooler")
    assert ctx.calls[1][-1] == "'Spooler'" and "Spooler" not in ctx.calls[1][4]
    assert len(ctx.calls) == 3


def test_windows_restart_that_leaves_it_pending_fails(on_windows: None) -> None:
    ctx = Recorded(windows_service(["get-service-running.json", "get-service-stop-pending.json"]))
    result = run_action("service.restart", ctx, "W32Time")
    assert result.error is not None and result.error.code == "not_running"
    assert result.evidence.after["sub_state"] == "StopPending"


def test_windows_failed_cmdlet_and_missing_service(on_windows: None) -> None:
    def refuses(argv: list[str]) -> Reply:
        if "Get-Service" in argv[4]:
            return 0, windows("get-service-running.json"), ""
        return 1, "", "Stop-Service : Cannot stop service 'Print Spooler (Spooler)' ...\r\n"

    result = run_action("service.stop", Recorded(refuses), "Spooler")
    assert result.error is not None and result.error.code == "command_failed"
    assert "Cannot stop service" in result.output

    missing = Recorded(lambda argv: (services_other.WIN_NOT_FOUND_EXIT, "", ""))
    result = run_action("service.start", missing, "nosuch")
    assert result.error is not None and result.error.code == "not_found"
    assert len(missing.calls) == 1  # nothing run after the status


def test_windows_dry_run_only_reads(on_windows: None) -> None:
    ctx = Recorded(windows_service(["get-service-stopped.json"]), dry_run=True)
    result = run_action("service.start", ctx, "wuauserv")
    assert result.ok and result.output == "would start wuauserv: stopped"
    assert ctx.calls == [windows_status_argv("wuauserv")]


def macos_job(states: list[str]) -> Callable[[list[str]], Reply]:
    queue = list(states)

    def answer(argv: list[str]) -> Reply:
        if argv[1] == "print":
            return 0, macos(queue.pop(0) if len(queue) > 1 else queue[0]), ""
        return 0, "", ""

    return answer


def test_macos_status_and_missing(on_macos: None) -> None:
    ctx = Recorded(macos_job(["launchctl-print-running.txt"]))
    result = run_action("service.status", ctx, "com.openssh.sshd")
    assert result.ok and result.output == "com.openssh.sshd: running, pid 6123"
    assert ctx.calls == [["launchctl", "print", "system/com.openssh.sshd"]]

    stderr = macos("launchctl-print-not-found.stderr.txt")
    missing = Recorded(lambda argv: (113, "", stderr))
    result = run_action("service.restart", missing, "com.example.nosuch")
    assert result.error is not None and result.error.code == "not_found"


def test_macos_stop_signals_and_waits_for_the_job_to_end(on_macos: None) -> None:
    # before, the check before signalling, one poll still running, then stopped.
    ctx = Recorded(
        macos_job(
            [
                "launchctl-print-running.txt",
                "launchctl-print-running.txt",
                "launchctl-print-running.txt",
                "launchctl-print-stopped.txt",
            ]
        )
    )
    result = run_action("service.stop", ctx, "com.openssh.sshd")
    assert result.ok and result.changed
    assert result.evidence.before["pid"] == 6123
    assert result.evidence.after["state"] == "stopped"
    assert ["launchctl", "kill", "SIGTERM", "system/com.openssh.sshd"] in ctx.calls
    assert not any("bootout" in argv for argv in ctx.calls)


def test_macos_stop_of_a_stopped_job_sends_nothing(on_macos: None) -> None:
    ctx = Recorded(macos_job(["launchctl-print-stopped.txt"]))
    result = run_action("service.stop", ctx, "com.openssh.sshd")
    assert result.ok and not result.changed
    assert all(argv[1] == "print" for argv in ctx.calls)


def test_macos_restart_kickstarts_with_kill(on_macos: None) -> None:
    ctx = Recorded(macos_job(["launchctl-print-running.txt"]))
    result = run_action("service.restart", ctx, "com.openssh.sshd")
    assert result.ok and result.changed
    assert ctx.calls[1] == ["launchctl", "kickstart", "-k", "system/com.openssh.sshd"]


def test_macos_job_that_launchd_keeps_alive_is_not_stopped(
    on_macos: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services_other, "MAC_SETTLE_SECONDS", 0.0)
    ctx = Recorded(macos_job(["launchctl-print-running.txt"]))
    result = run_action("service.stop", ctx, "com.openssh.sshd")
    assert result.error is not None and result.error.code == "not_stopped"
