"""macOS probe parsers, fed recorded command output (tests/recorded/macos/inventory)."""

from pathlib import Path

from catalogue.probes import launchctl, macos_net, sw_vers, sysctl, system_profiler

RECORDED = Path(__file__).resolve().parents[2] / "recorded" / "macos" / "inventory"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


def test_sw_vers_sonoma() -> None:
    assert sw_vers.parse_sw_vers(recorded("sw_vers-sonoma.txt")) == {
        "name": "macOS",
        "pretty_name": "macOS 14.2.1",
        "version": "14.2.1",
        "build": "23C71",
        "id": "macos",
    }


def test_sw_vers_catalina_old_product_name() -> None:
    identity = sw_vers.parse_sw_vers(recorded("sw_vers-catalina.txt"))
    assert identity is not None
    assert identity["name"] == "Mac OS X"
    assert identity["version"] == "10.15.7"


def test_sw_vers_empty() -> None:
    assert sw_vers.parse_sw_vers("") is None


def test_launchctl_list() -> None:
    items = launchctl.parse_launchctl_list(recorded("launchctl-list-root.txt"))
    assert len(items) == 11
    index = {i["name"]: i for i in items}
    assert index["com.apple.Finder"] == {
        "name": "com.apple.Finder",
        "state": "running",
        "pid": 612,
        "last_exit_status": 0,
    }
    worker = index["com.apple.mdworker.shared.0C000000-0000-0000-0000-000000000000"]
    assert worker["state"] == "stopped"
    assert worker["pid"] is None
    assert worker["last_exit_status"] == -9
    assert index["org.cups.cupsd"]["last_exit_status"] == 1
    assert "Label" not in index


def test_applications() -> None:
    apps = system_profiler.parse_applications(recorded("system_profiler-applications.json"))
    assert apps is not None
    assert len(apps) == 8
    index = {a["name"]: a for a in apps}
    assert index["Safari"] == {
        "name": "Safari",
        "version": "17.2.1",
        "path": "/Applications/Safari.app",
        "obtained_from": "apple",
    }
    assert index["Legacy Helper"]["version"] is None
    assert index["zoom.us"]["version"] == "5.17.5 (29101)"
    assert [a["name"] for a in apps][:2] == ["Finder", "Google Chrome"]


def test_applications_unreadable() -> None:
    assert system_profiler.parse_applications("") is None
    assert system_profiler.parse_applications('{"SPOtherDataType": []}') is None


def test_scutil_dns_ignores_scoped_resolvers() -> None:
    assert macos_net.parse_scutil_dns(recorded("scutil-dns-wifi-vpn.txt")) == [
        "10.8.0.1",
        "192.168.178.1",
        "fd00::3ea6:2fff:fe8a:1b2c",
    ]


def test_route_get_default() -> None:
    assert macos_net.parse_route_get(recorded("route-get-default-wifi.txt")) == "192.168.178.1"
    assert macos_net.parse_route_get("   route to: default\n") is None


def test_cpu_brand_string() -> None:
    assert sysctl.parse_brand_string(recorded("sysctl-brand-string-m2.txt")) == "Apple M2 Pro"
    assert sysctl.parse_brand_string("\n") is None
