"""Linux probe parsers, fed recorded outputs (tests/recorded/linux/inventory)."""

from pathlib import Path

import pytest

from catalogue.probes import cpuinfo, dpkg, linux_net, os_release, rpm, systemd, sysv

RECORDED = Path(__file__).resolve().parents[2] / "recorded" / "linux" / "inventory"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


def by_name(items: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {item["name"]: item for item in items}


def test_dpkg_real_debian12() -> None:
    packages = dpkg.parse_dpkg_query(recorded("dpkg-query-debian12.txt"))
    assert len(packages) == 760
    index = by_name(packages)
    assert index["bash"] == {"name": "bash", "version": "5.2.15-2+b8", "arch": "amd64"}
    assert index["python3"]["version"] == "3.11.2-1+b1"
    assert {p["arch"] for p in packages} <= {"amd64", "all"}
    names = [p["name"] for p in packages]
    assert names == sorted(names)


def test_dpkg_keeps_only_complete_installs() -> None:
    packages = dpkg.parse_dpkg_query(recorded("dpkg-query-ubuntu2204-mixed.txt"))
    names = [p["name"] for p in packages]
    assert "linux-image-5.15.0-88-generic" not in names  # config-files
    assert "python3-apt" not in names  # half-configured
    assert "zoom" not in names  # unpacked
    assert "libreoffice-core" not in names  # not-installed
    assert "man-db" in names  # triggers-pending
    assert [p["arch"] for p in packages if p["name"] == "libc6"] == ["amd64", "i386"]
    assert by_name(packages)["firefox"]["version"] == "1:1snap1-0ubuntu2"
    assert len(packages) == 11


def test_dpkg_argv_asks_for_status() -> None:
    assert dpkg.ARGV[0] == "dpkg-query"
    assert "${db:Status-Status}" in dpkg.ARGV[-1]


def test_rpm_fedora39() -> None:
    packages = rpm.parse_rpm_query(recorded("rpm-qa-fedora39.txt"))
    assert len(packages) == 10
    index = by_name(packages)
    assert index["gpg-pubkey"]["arch"] is None
    assert index["NetworkManager"]["version"] == "1:1.44.2-1.fc39"
    assert index["bash"] == {"name": "bash", "version": "5.2.21-1.fc39", "arch": "x86_64"}
    assert [p["arch"] for p in packages if p["name"] == "glibc"] == ["i686", "x86_64"]


def test_sysv_status_all_real_debian12() -> None:
    states = {
        i["name"]: i["state"]
        for i in sysv.parse_status_all(recorded("service-status-all-debian12.txt"))
    }
    assert states["mosquitto"] == "running"
    assert states["postgresql"] == "running"
    assert states["dbus"] == "stopped"
    # `service` prints "[ ? ]" lines to stderr, which the recording (stdout) lacks.
    assert "hwclock.sh" not in states
    assert len(states) == 9


def test_sysv_merge_fills_unknown_from_init_d() -> None:
    scripts = recorded("ls-etc-init.d-debian12.txt").split()
    items = sysv.merge_scripts(
        sysv.parse_status_all(recorded("service-status-all-debian12.txt")), scripts
    )
    assert [i["name"] for i in items] == sorted(scripts)
    assert by_name(items)["hwclock.sh"]["state"] == "unknown"
    assert by_name(items)["rabbitmq-server"]["state"] == "running"


def test_sysv_question_mark_line_and_script_filter() -> None:
    assert sysv.parse_status_all(" [ ? ]  hwclock.sh\n") == [
        {"name": "hwclock.sh", "state": "unknown"}
    ]
    merged = sysv.merge_scripts(
        [], ["README", "skeleton", "cron.dpkg-old", "ssh~", ".depend.boot", "cron"]
    )
    assert merged == [{"name": "cron", "state": "unknown"}]


def test_systemd_list_units() -> None:
    items = systemd.parse_list_units(recorded("systemctl-list-units-ubuntu2204.txt"))
    assert len(items) == 22
    index = by_name(items)
    assert index["cron"]["state"] == "running"
    assert index["apparmor"]["state"] == "stopped"  # active (exited) oneshot
    assert index["nginx"] == {
        "name": "nginx",
        "state": "stopped",
        "load": "loaded",
        "active": "failed",
        "sub": "failed",
        "description": "A high performance web server and a reverse proxy server",
    }
    assert index["unattended-upgrades"]["state"] == "unknown"
    assert index["auditd"]["load"] == "not-found"
    assert index["systemd-fsck@dev-disk-by\\x2duuid-9C1B\\x2dA0F2"]["state"] == "stopped"


def test_systemd_tolerates_failed_marker() -> None:
    items = systemd.parse_list_units("● nginx.service loaded failed failed nginx\n")
    assert items[0]["name"] == "nginx"
    assert items[0]["state"] == "stopped"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "os-release-debian12.txt",
            {
                "name": "Debian GNU/Linux",
                "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                "version": "12",
                "build": None,
                "id": "debian",
            },
        ),
        (
            "os-release-fedora39.txt",
            {
                "name": "Fedora Linux",
                "pretty_name": "Fedora Linux 39 (Workstation Edition)",
                "version": "39",
                "build": None,
                "id": "fedora",
            },
        ),
        (
            "os-release-arch.txt",
            {
                "name": "Arch Linux",
                "pretty_name": "Arch Linux",
                "version": None,
                "build": "rolling",
                "id": "arch",
            },
        ),
    ],
)
def test_os_release_identity(name: str, expected: dict[str, object]) -> None:
    assert os_release.parse_os_identity(recorded(name)) == expected


def test_os_release_quoting_and_empty() -> None:
    fields = os_release.parse_os_release(
        'A="two words"\nB=\'single\'\nC=plain\n# D=x\nE="unbalanced\n'
    )
    assert fields == {"A": "two words", "B": "single", "C": "plain", "E": "unbalanced"}
    assert os_release.parse_os_identity("")["id"] == "linux"


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("cpuinfo-amd-epyc.txt", "AMD EPYC"),
        ("cpuinfo-raspberrypi4.txt", "Raspberry Pi 4 Model B Rev 1.4"),
    ],
)
def test_cpu_model(name: str, model: str) -> None:
    assert cpuinfo.parse_cpu_model(recorded(name)) == model


def test_cpu_model_missing() -> None:
    assert cpuinfo.parse_cpu_model("processor\t: 0\n") is None


def test_default_gateway_real_vm() -> None:
    assert linux_net.parse_proc_net_route(recorded("proc-net-route-vm.txt")) == "192.0.2.1"


def test_default_gateway_lowest_metric_wins() -> None:
    # Docked laptop: wired (metric 100) beats Wi-Fi (metric 600).
    assert linux_net.parse_proc_net_route(recorded("proc-net-route-laptop.txt")) == "192.168.1.254"


def test_default_gateway_absent() -> None:
    text = recorded("proc-net-route-laptop.txt")
    without_default = "\n".join(
        line for line in text.splitlines() if "\t00000000\t" not in line[:30]
    )
    assert linux_net.parse_proc_net_route(without_default) is None


@pytest.mark.parametrize(
    ("name", "servers"),
    [
        ("resolv.conf-vm.txt", ["10.255.255.53"]),
        ("resolv.conf-systemd-resolved.txt", ["127.0.0.53"]),
        ("resolv.conf-static.txt", ["10.20.0.10", "10.20.0.11", "2001:db8::53"]),
    ],
)
def test_resolv_conf(name: str, servers: list[str]) -> None:
    assert linux_net.parse_resolv_conf(recorded(name)) == servers
