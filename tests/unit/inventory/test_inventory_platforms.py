"""Per-platform wiring: which probes run on which OS, and how their output lands in sections."""

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.inventory import platforms
from agent.inventory.platforms import linux, macos, windows
from agent.inventory.platforms.base import GENERIC, Platform
from catalogue.probes import (
    launchctl,
    macos_net,
    rpm,
    sw_vers,
    system_profiler,
    windows_net,
    windows_os,
    windows_services,
    windows_software,
)

RECORDED = Path(__file__).resolve().parents[2] / "recorded"


def fake_runner(outputs: dict[str, str | None]) -> Callable[..., str | None]:
    """A run_probe stand-in answering with recordings, keyed by the argv's last word."""

    def run(argv: list[str], timeout: float = 10.0) -> str | None:
        name = outputs[argv[-1]]
        return None if name is None else (RECORDED / name).read_text(encoding="utf-8")

    return run


@pytest.mark.parametrize(
    ("sys_platform", "expected"),
    [
        ("linux", linux.LINUX),
        ("win32", windows.WINDOWS),
        ("darwin", macos.MACOS),
        ("freebsd14", GENERIC),
    ],
)
def test_current_picks_platform(
    monkeypatch: pytest.MonkeyPatch, sys_platform: str, expected: Platform
) -> None:
    monkeypatch.setattr(sys, "platform", sys_platform)
    assert platforms.current() is expected


def test_windows_sections_from_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        windows,
        "run_probe",
        fake_runner(
            {
                windows_services.ARGV[-1]: "windows/inventory/win32-service-win11.json",
                windows_software.ARGV[-1]: "windows/inventory/uninstall-keys-win11.json",
                windows_os.ARGV[-1]: "windows/inventory/win32-operatingsystem-win11.json",
                windows_net.ARGV[
                    -1
                ]: "windows/inventory/win32-networkadapterconfiguration-laptop.json",
            }
        ),
    )
    plat = windows.WINDOWS
    services = plat.services()
    assert services["manager"] == "windows"
    assert len(services["items"]) == 21
    software = plat.software()
    assert software["source"] == "windows-registry"
    assert len(software["packages"]) == 14
    assert plat.identity()["pretty_name"] == "Microsoft Windows 11 Pro"
    assert plat.net_config()["default_gateway"] == "10.40.0.1"
    assert plat.software_stamp() is None
    assert plat.net_config_is_slow


def test_windows_probe_failures_keep_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows, "run_probe", lambda argv, timeout=10.0: None)
    plat = windows.WINDOWS
    assert plat.services()["items"] == []
    assert "error" in plat.services()
    assert plat.software()["packages"] == []
    assert plat.identity()["id"] == "windows"
    assert plat.net_config() == {"default_gateway": None, "dns_servers": []}


def test_macos_sections_from_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        macos,
        "run_probe",
        fake_runner(
            {
                launchctl.ARGV[-1]: "macos/inventory/launchctl-list-root.txt",
                system_profiler.ARGV[-1]: "macos/inventory/system_profiler-applications.json",
                sw_vers.ARGV[-1]: "macos/inventory/sw_vers-sonoma.txt",
                macos_net.ROUTE_ARGV[-1]: "macos/inventory/route-get-default-wifi.txt",
                macos_net.SCUTIL_DNS_ARGV[-1]: "macos/inventory/scutil-dns-wifi-vpn.txt",
                "machdep.cpu.brand_string": "macos/inventory/sysctl-brand-string-m2.txt",
            }
        ),
    )
    plat = macos.MACOS
    assert plat.services()["manager"] == "launchd"
    assert len(plat.services()["items"]) == 11
    assert plat.software()["source"] == "macos"
    assert len(plat.software()["packages"]) == 8
    assert plat.identity()["version"] == "14.2.1"
    assert plat.cpu_model() == "Apple M2 Pro"
    assert plat.net_config() == {
        "default_gateway": "192.168.178.1",
        "dns_servers": ["10.8.0.1", "192.168.178.1", "fd00::3ea6:2fff:fe8a:1b2c"],
    }


def test_linux_systemd_selected_when_booted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os.path, "isdir", lambda path: path == "/run/systemd/system")
    monkeypatch.setattr(
        linux,
        "run_probe",
        fake_runner({"--plain": "linux/inventory/systemctl-list-units-ubuntu2204.txt"}),
    )
    services = linux.services()
    assert services["manager"] == "systemd"
    assert len(services["items"]) == 22


def test_linux_rpm_selected_without_dpkg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    monkeypatch.setattr(os.path, "isdir", lambda path: path == "/var/lib/rpm")
    monkeypatch.setattr(
        linux,
        "run_probe",
        fake_runner({rpm.ARGV[-1]: "linux/inventory/rpm-qa-fedora39.txt"}),
    )
    software = linux.software()
    assert software["source"] == "rpm"
    assert len(software["packages"]) == 10
