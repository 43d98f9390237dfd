"""inventory over WinRM through the emulator: the catalogue's Windows probe scripts are
sent whole, answered with the recordings the agent's parsers are tested on, and come back
in the agent's section shapes. Nothing here ran on Windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from winrm_emulator import Reply, WinrmEmulator

import catalogue
from controller.transports.base import Target
from controller.transports.winrm import WinrmTransport
from protos.deskside.v1 import INVENTORY_SECTIONS

INVENTORY = Path(__file__).resolve().parents[1] / "recorded" / "windows" / "inventory"


@pytest.fixture
def emu() -> Iterator[WinrmEmulator]:
    with WinrmEmulator() as emulator:
        emulator.answer_inventory()
        yield emulator


def target(emu: WinrmEmulator) -> Target:
    options = {"auth": "basic", "ca_file": str(emu.cert_file)}
    return Target(
        "desk-0042", "winrm", "127.0.0.1", emu.port, emu.username, emu.password, options=options
    )


async def test_every_section_in_the_agents_shape(emu: WinrmEmulator) -> None:
    sections = await WinrmTransport().inventory(target(emu))
    assert list(sections) == list(INVENTORY_SECTIONS)
    assert sections["os"]["id"] == "windows" and sections["os"]["family"] == "windows"
    assert sections["os"]["uptime_s"] == 86400.0 and sections["os"]["hostname"] == "DESK-0042"
    assert sections["cpu"]["logical_cores"] == 8 and sections["cpu"]["load_avg"] is None
    assert sections["memory"]["percent"] == 50.0
    (mount,) = sections["disks"]["mounts"]
    assert mount["mountpoint"] == "C:\\" and mount["used"] == 255230791680 - 101468831744
    assert sections["services"]["manager"] == "windows"
    assert {"name", "state", "status", "start_mode", "display_name"} <= set(
        sections["services"]["items"][0]
    )
    assert sections["software"]["source"] == "windows-registry"
    assert sections["software"]["packages"]
    assert sections["network"]["default_gateway"] is not None
    assert sections["processes"]["count"] == 5
    assert set(sections["processes"]["top_cpu"][0]) == {
        "pid",
        "name",
        "username",
        "cpu_percent",
        "rss",
    }
    # What WinRM does not collect says so, in the agent's error convention.
    assert "error" in sections["users"] and "error" in sections["network"]


async def test_probe_scripts_go_whole_as_encoded_commands(emu: WinrmEmulator) -> None:
    await WinrmTransport().inventory(target(emu))
    assert all(c.line.split()[3] == "-EncodedCommand" for c in emu.commands)
    assert len(emu.commands) == 6  # machine, os, network, processes, services, software
    assert emu.actions.count("Create") == 1  # one shell for the whole inventory


async def test_failed_probe_keeps_the_section_shape(emu: WinrmEmulator) -> None:
    emu.routes.insert(0, ("Get-CimInstance Win32_Service |", Reply(stdout='{"sent"')))
    sections = await WinrmTransport().inventory(target(emu))
    assert sections["services"]["items"] == [] and "error" in sections["services"]


async def test_inventory_collect_action_with_sections(emu: WinrmEmulator) -> None:
    params = catalogue.validate("inventory.collect", {"sections": ["os", "software"]})
    result = await WinrmTransport().run_action(
        target(emu), "inventory.collect", params, dry_run=False, timeout_s=60
    )
    assert result.ok and list(result.data) == ["os", "software"]
    assert len(emu.commands) == 3  # machine facts, os, software: nothing else asked
