"""Windows probe parsers, fed recorded PowerShell output (tests/recorded/windows/inventory)."""

from pathlib import Path

from catalogue.probes import (
    powershell,
    windows_net,
    windows_os,
    windows_services,
    windows_software,
)

RECORDED = Path(__file__).resolve().parents[2] / "recorded" / "windows" / "inventory"


def recorded(name: str) -> str:
    # utf-8, not utf-8-sig: the parsers must cope with the BOM themselves.
    return (RECORDED / name).read_text(encoding="utf-8")


def test_services_win11() -> None:
    items = windows_services.parse_win32_service(recorded("win32-service-win11.json"))
    assert items is not None
    assert len(items) == 21
    index = {i["name"]: i for i in items}
    assert index["Spooler"] == {
        "name": "Spooler",
        "state": "running",
        "status": "Running",
        "start_mode": "Auto",
        "display_name": "Print Spooler",
    }
    assert index["gupdate"]["state"] == "stopped"
    assert index["gupdate"]["start_mode"] == "Disabled"
    assert index["TrustedInstaller"]["state"] == "unknown"
    assert index["TrustedInstaller"]["status"] == "Start Pending"
    assert index["VSS"]["state"] == "unknown"
    names = [i["name"] for i in items]
    assert names == sorted(names, key=str.lower)


def test_software_win11_deduplicates_and_keeps_unicode() -> None:
    packages = windows_software.parse_uninstall_entries(recorded("uninstall-keys-win11.json"))
    assert packages is not None
    assert len(packages) == 14
    assert [p["name"] for p in packages].count("Microsoft OneDrive") == 1
    index = {p["name"]: p for p in packages}
    assert index["Google Chrome"] == {
        "name": "Google Chrome",
        "version": "120.0.6099.130",
        "publisher": "Google LLC",
        "install_date": "20231221",
    }
    assert index["7-Zip 23.01 (x64)"]["install_date"] is None
    assert index["Bürosoftware Lohn 2024"]["version"] is None
    assert index["Bürosoftware Lohn 2024"]["publisher"] == "Müller & Söhne GmbH"
    assert packages[0]["name"] == "7-Zip 23.01 (x64)"


def test_operating_system_win11() -> None:
    assert windows_os.parse_win32_os(recorded("win32-operatingsystem-win11.json")) == {
        "name": "Windows",
        "pretty_name": "Microsoft Windows 11 Pro",
        "version": "10.0.22631",
        "build": "22631",
        "id": "windows",
    }


def test_network_prefers_lowest_metric_adapter() -> None:
    config = windows_net.parse_adapter_config(
        recorded("win32-networkadapterconfiguration-laptop.json")
    )
    assert config == {
        "default_gateway": "10.40.0.1",
        "dns_servers": ["10.40.0.53", "10.40.0.54", "192.168.178.1"],
    }


def test_network_single_adapter_object_with_bom() -> None:
    text = recorded("win32-networkadapterconfiguration-single.json")
    assert text.startswith("\ufeff")
    config = windows_net.parse_adapter_config(text)
    assert config == {
        "default_gateway": "192.168.0.1",
        "dns_servers": ["192.168.0.1", "2001:db8:1::1"],
    }


def test_ipv4_gateway_preferred_over_ipv6() -> None:
    config = windows_net.parse_adapter_config(
        '{"IPConnectionMetric": 35, "DefaultIPGateway": ["fe80::1", "192.168.178.1"]}'
    )
    assert config is not None
    assert config["default_gateway"] == "192.168.178.1"


def test_unreadable_output_is_none() -> None:
    assert windows_services.parse_win32_service("") is None
    assert windows_software.parse_uninstall_entries("Get-ItemProperty : error") is None
    assert windows_os.parse_win32_os("[]") is None
    assert windows_net.parse_adapter_config("42") is None


def test_powershell_argv_is_an_argument_list() -> None:
    argv = windows_services.ARGV
    assert argv[:4] == ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"]
    assert len(argv) == 5
    assert argv[4].endswith("ConvertTo-Json")
    assert "WOW6432Node" in windows_software.ARGV[4]


def test_json_value_helpers() -> None:
    assert powershell.as_str("  x ") == "x"
    assert powershell.as_str("") is None
    assert powershell.as_str_list("8.8.8.8") == ["8.8.8.8"]
    assert powershell.as_str_list(["a", None, ""]) == ["a"]
