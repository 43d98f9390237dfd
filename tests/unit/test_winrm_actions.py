"""Each WinRM action end to end through the WS-Man emulator: the script sent, its params
(only inside the base64 JSON blob), and the canned PowerShell output parsed into the
agent's result shape. The canned outputs are not captures from Windows (see
tests/recorded/winrm/README.md); nothing here ran on Windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from winrm_emulator import WinrmEmulator, canned

import catalogue
from controller.transports.base import Target
from controller.transports.winrm import WinrmTransport

WINDOWS = Path(__file__).resolve().parents[1] / "recorded" / "windows" / "actions"


@pytest.fixture
def emu() -> Iterator[WinrmEmulator]:
    with WinrmEmulator() as emulator:
        yield emulator


async def run(
    emu: WinrmEmulator, action: str, params: dict[str, Any], dry_run: bool = False
) -> catalogue.ActionResult:
    t = Target(
        "desk-0042",
        "winrm",
        "127.0.0.1",
        emu.port,
        emu.username,
        emu.password,
        options={"auth": "basic", "ca_file": str(emu.cert_file)},
    )
    validated = catalogue.validate(action, params)
    return await WinrmTransport().run_action(t, action, validated, dry_run=dry_run, timeout_s=30)


def sent(emu: WinrmEmulator) -> list[Any]:
    """The params blob of every script sent, with proof no value leaked into the text."""
    for command in emu.commands:
        assert command.script is not None
        for value in (command.params or {}).values():
            if isinstance(value, str) and len(value) > 3:
                assert value not in command.script
    return [command.params for command in emu.commands]


# --- services -----------------------------------------------------------------------------


async def test_service_start_checks_before_and_after(emu: WinrmEmulator) -> None:
    emu.answer("Get-Service -Name $P.name", (WINDOWS / "get-service-stopped.json").read_text())
    emu.answer("Get-Service -Name $P.name", (WINDOWS / "get-service-running.json").read_text())
    emu.answer("Start-Service -Name $P.name")
    result = await run(emu, "service.start", {"name": "wuauserv"})
    assert result.ok and result.changed
    assert result.evidence.before["state"] == "stopped"
    assert result.evidence.after["state"] == "running"
    assert sent(emu) == [{"name": "wuauserv"}] * 3


async def test_service_stop_dry_run_changes_nothing(emu: WinrmEmulator) -> None:
    emu.answer("Get-Service -Name $P.name", (WINDOWS / "get-service-running.json").read_text())
    result = await run(emu, "service.stop", {"name": "spooler"}, dry_run=True)
    assert result.ok and not result.changed and result.output.startswith("would stop")
    assert len(emu.commands) == 1


async def test_missing_service_is_not_found(emu: WinrmEmulator) -> None:
    emu.answer("Get-Service -Name $P.name", exit_code=3)
    result = await run(emu, "service.restart", {"name": "nosuch"})
    assert result.error is not None and result.error.code == "not_found"


async def test_failed_control_is_command_failed(emu: WinrmEmulator) -> None:
    emu.answer("Get-Service -Name $P.name", (WINDOWS / "get-service-running.json").read_text())
    emu.answer(
        "Stop-Service", stderr="Cannot stop service 'Spooler': it has dependents", exit_code=1
    )
    result = await run(emu, "service.stop", {"name": "spooler"})
    assert result.error is not None and result.error.code == "command_failed"
    assert "dependents" in result.output


# --- processes ------------------------------------------------------------------------------


async def test_process_list_sorted_and_limited(emu: WinrmEmulator) -> None:
    emu.answer("Start-Sleep -Milliseconds", canned("process-list.json"))
    result = await run(emu, "process.list", {"sort": "memory", "limit": 2})
    assert result.ok
    assert result.data["count"] == 5
    assert [p["name"] for p in result.data["processes"]] == ["msedge.exe", "powershell.exe"]
    edge = result.data["processes"][0]
    assert set(edge) == {"pid", "name", "user", "cmdline", "rss", "started", "cpu_percent"}
    assert edge["cpu_percent"] == pytest.approx(49.7, abs=0.1)  # 0.15625 s CPU in 0.314 s


async def test_process_list_by_name(emu: WinrmEmulator) -> None:
    emu.answer("Start-Sleep -Milliseconds", canned("process-list.json"))
    result = await run(emu, "process.list", {"name": "notepad.exe"})
    assert [p["pid"] for p in result.data["processes"]] == [7312]


async def test_process_kill_by_name(emu: WinrmEmulator) -> None:
    emu.answer("$all = Get-CimInstance Win32_Process", canned("process-find-notepad.json"))
    emu.answer("Stop-Process -Id", canned("process-kill-notepad.json"))
    result = await run(emu, "process.kill", {"name": "notepad.exe"})
    assert result.ok and result.changed
    assert result.evidence.after == {"signalled": [7312], "still_running": []}
    assert "Stop-Process" in result.output
    find, kill = sent(emu)
    assert find == {"pid": None, "name": "notepad.exe"}
    assert kill["targets"][0]["pid"] == 7312


async def test_process_kill_refuses_windows_itself(emu: WinrmEmulator) -> None:
    emu.answer("$all = Get-CimInstance Win32_Process", canned("process-find-lsass.json"))
    result = await run(emu, "process.kill", {"pid": 712})
    assert result.error is not None and result.error.code == "policy_denied"
    assert len(emu.commands) == 1


async def test_process_kill_dry_run(emu: WinrmEmulator) -> None:
    emu.answer("$all = Get-CimInstance Win32_Process", canned("process-find-notepad.json"))
    result = await run(emu, "process.kill", {"pid": 7312}, dry_run=True)
    assert result.ok and not result.changed and result.output.startswith("would end")


# --- files and disks --------------------------------------------------------------------------


async def test_disk_usage_adds_subdirectories_up(emu: WinrmEmulator) -> None:
    emu.answer("$sizes = @{}", canned("disk-usage-temp.json"))
    result = await run(emu, "disk.usage", {"path": "C:\\Windows\\Temp", "depth": 2, "top": 3})
    assert result.ok
    assert sent(emu) == [{"path": "C:\\Windows\\Temp", "depth": 2}]
    assert result.data["total_bytes"] == 1048576 + 52428800 + 10485760 + 2097152
    assert result.data["top"][0] == {"path": "C:\\Windows\\Temp\\CBS", "bytes": 62914560}
    assert result.data["unreadable"] == 1
    assert result.data["filesystem"]["used"] == 255230791680 - 101468831744


async def test_disk_usage_of_a_missing_path(emu: WinrmEmulator) -> None:
    emu.answer("$sizes = @{}", stderr="does not exist", exit_code=3)
    result = await run(emu, "disk.usage", {"path": "C:\\Nowhere"})
    assert result.error is not None and result.error.code == "not_found"


async def test_disk_cleanup_dry_run_lists(emu: WinrmEmulator) -> None:
    emu.answer("function Clean(", canned("disk-cleanup-dry-run.json"))
    params = {"paths": ["C:\\Windows\\Temp", "D:\\Nowhere"], "older_than_s": 86400}
    result = await run(emu, "disk.cleanup", params, dry_run=True)
    assert result.ok and not result.changed
    assert sent(emu) == [{**params, "dry_run": True}]
    assert result.data["would_delete"][0] == "C:\\Windows\\Temp\\old\\setup.log"
    assert (result.data["files"], result.data["directories"]) == (2, 1)
    assert result.data["error_count"] == 1 and result.data["skipped_special"] == 1
    assert result.output.splitlines()[-1].startswith("would delete 2 files")


async def test_disk_cleanup_with_no_usable_path(emu: WinrmEmulator) -> None:
    emu.answer("function Clean(", canned("disk-cleanup-nothing.json"))
    result = await run(emu, "disk.cleanup", {"paths": ["D:\\Nowhere"]})
    assert result.error is not None and result.error.code == "not_found"


@pytest.mark.parametrize(
    ("recording", "lines"), [("log-tail-windowsupdate.json", 2), ("log-tail-one-line.json", 1)]
)
async def test_log_tail(emu: WinrmEmulator, recording: str, lines: int) -> None:
    emu.answer("Get-Content -LiteralPath", canned(recording))
    path = "C:\\Windows\\Logs\\WindowsUpdate.log"
    result = await run(emu, "log.tail", {"path": path, "lines": 5, "grep": "Finding"})
    assert result.ok and result.data == {"lines": lines}
    assert "2 updates found" in result.output
    assert sent(emu) == [{"path": path, "lines": 5, "grep": "Finding"}]


async def test_file_stat(emu: WinrmEmulator) -> None:
    emu.answer("Get-FileHash", canned("file-stat-hosts.json"))
    path = "C:\\Windows\\System32\\drivers\\etc\\hosts"
    result = await run(emu, "file.stat", {"path": path})
    assert result.ok
    assert result.data["type"] == "file" and result.data["size"] == 824
    assert result.data["sha256"].startswith("2d6bdfb3")
    assert result.data["mode"] is None and result.data["owner"] == "NT AUTHORITY\\SYSTEM"


# --- network ----------------------------------------------------------------------------------


async def test_ping(emu: WinrmEmulator) -> None:
    emu.answer("NetworkInformation.Ping", canned("ping-ok.json"))
    result = await run(emu, "net.ping", {"host": "10.0.0.1", "count": 3})
    assert result.ok and result.data["reachable"]
    assert (result.data["rtt_min_ms"], result.data["rtt_avg_ms"]) == (1.0, 2.0)
    assert result.data["loss_percent"] == 0.0
    assert sent(emu) == [{"host": "10.0.0.1", "count": 3, "timeout_s": 5.0}]


async def test_ping_unknown_host(emu: WinrmEmulator) -> None:
    emu.answer("NetworkInformation.Ping", canned("ping-unknown-host.json"))
    result = await run(emu, "net.ping", {"host": "nosuch.example.com"})
    assert result.ok and not result.data["reachable"]
    assert result.data["error"] == "No such host is known"


async def test_tcp_check(emu: WinrmEmulator) -> None:
    emu.answer("TcpClient", canned("tcp-open.json"))
    result = await run(emu, "net.tcp_check", {"host": "fileserver", "port": 445})
    assert result.ok and result.data["reachable"] and result.data["connect_ms"] == 3.46
    assert sent(emu)[0]["port"] == 445


async def test_dns_resolve(emu: WinrmEmulator) -> None:
    emu.answer("Resolve-DnsName", canned("dns-a.json"))
    result = await run(emu, "net.dns_resolve", {"name": "example.com", "server": "10.0.0.53"})
    assert result.data["answers"] == ["93.184.215.14"] and result.data["status"] == "ok"
    assert sent(emu) == [{"name": "example.com", "type": "A", "server": "10.0.0.53"}]


async def test_dns_nxdomain(emu: WinrmEmulator) -> None:
    emu.answer("Resolve-DnsName", canned("dns-nxdomain.json"))
    result = await run(emu, "net.dns_resolve", {"name": "nosuch.example.com"})
    assert result.data["status"] == "nxdomain" and result.data["answers"] == []


async def test_output_that_is_not_json_is_protocol_error(emu: WinrmEmulator) -> None:
    emu.answer("TcpClient", "WARNING: something odd\r\n")
    result = await run(emu, "net.tcp_check", {"host": "fileserver", "port": 445})
    assert result.error is not None and result.error.code == "protocol_error"
