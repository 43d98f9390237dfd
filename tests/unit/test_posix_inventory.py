"""The posix inventory, collected for real through LocalShell, against the agent's shapes;
and the parsers it added to catalogue/probes, on recorded outputs."""

from __future__ import annotations

from typing import Any

from local_shell import LocalShell, local_context

from agent.inventory import InventoryCollector
from catalogue.actions import InventoryCollect
from catalogue.probes import df, procfs, ss
from controller.transports.base import Completed, RemoteContext
from controller.transports.errors import Unreachable
from controller.transports.posix import ACTIONS
from controller.transports.posix.inventory import collect


def _keys(section: dict[str, Any]) -> set[str]:
    return set(section) - {"error"}


def test_sections_have_the_agents_shapes() -> None:
    remote = collect(local_context())
    agent = InventoryCollector(slow_refresh_s=0).snapshot()
    assert remote.keys() == agent.keys()
    for name in remote:
        assert "error" not in remote[name], (name, remote[name])
        assert _keys(remote[name]) == _keys(agent[name]), name
    assert remote["os"]["hostname"] == agent["os"]["hostname"]
    assert remote["os"]["pretty_name"] == agent["os"]["pretty_name"]
    assert remote["cpu"]["logical_cores"] == agent["cpu"]["logical_cores"]
    assert remote["memory"]["total"] == agent["memory"]["total"]
    assert remote["services"]["manager"] == agent["services"]["manager"]
    assert remote["software"]["packages"] == agent["software"]["packages"]
    assert {i["name"] for i in remote["network"]["interfaces"]} == {
        i["name"] for i in agent["network"]["interfaces"]
    }
    for interface in remote["network"]["interfaces"]:
        assert interface.keys() == agent["network"]["interfaces"][0].keys()
    assert remote["processes"]["top_cpu"][0].keys() == agent["processes"]["top_cpu"][0].keys()
    root = [m for m in remote["disks"]["mounts"] if m["mountpoint"] == "/"]
    assert root and root[0].keys() == agent["disks"]["mounts"][0].keys()


def test_the_action_returns_the_sections_asked_for() -> None:
    got = ACTIONS["inventory.collect"](InventoryCollect(sections=["os", "users"]), local_context())
    assert list(got.data) == ["os", "users"]


class _Broken(LocalShell):
    def run(self, argv: list[str], timeout: float = 60.0, stdin: str | None = None) -> Completed:
        if argv[0] == "ip":
            return Completed(0, "not json", "")
        if argv[0] == "uname" and len(argv) > 2:  # the os section
            raise Unreachable("gone")
        return super().run(argv, timeout, stdin)


def test_a_failing_section_is_an_error_and_a_lost_connection_raises() -> None:
    found = collect(RemoteContext(shell=_Broken()), ["network", "memory"])
    assert found["network"]["error"].startswith("JSONDecodeError")
    assert "error" not in found["memory"]
    try:
        collect(RemoteContext(shell=_Broken()), ["os"])
    except Unreachable:
        pass
    else:
        raise AssertionError("a transport failure must reach the transport")


def test_ss_listing_parses() -> None:
    text = (
        'LISTEN 0 4096 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=812,fd=3))\n'
        'LISTEN 0 4096 [::]:22 [::]:* users:(("sshd",pid=812,fd=4))\n'
        "LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:* "
        'users:(("resolved",pid=600,fd=14),("helper",pid=601,fd=3))\n'
        "LISTEN 0 128 *:8080 *:*\n"
    )
    assert ss.parse_listening(text) == [
        {"port": 22, "address": "0.0.0.0", "family": "ipv4", "pid": 812, "process": "sshd"},
        {"port": 22, "address": "::", "family": "ipv6", "pid": 812, "process": "sshd"},
        {
            "port": 53,
            "address": "127.0.0.53",
            "family": "ipv4",
            "pid": 600,
            "process": "resolved",
        },
        {"port": 53, "address": "127.0.0.53", "family": "ipv4", "pid": 601, "process": "helper"},
        {"port": 8080, "address": "::", "family": "ipv6", "pid": None, "process": None},
    ]


def test_procfs_and_df_parsers() -> None:
    meminfo = "MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 500 kB\nBuffers: 100 kB\n"
    meminfo += "Cached: 100 kB\nSReclaimable: 0 kB\nSwapTotal: 50 kB\nSwapFree: 20 kB\n"
    assert procfs.parse_meminfo(meminfo) == {
        "total": 1024000,
        "available": 512000,
        "used": 614400,
        "percent": 50.0,
        "swap_total": 51200,
        "swap_used": 30720,
        "swap_free": 20480,
    }
    first = procfs.parse_cpu_times("cpu  100 0 100 800 0 0 0 0 0 0\n")
    second = procfs.parse_cpu_times("cpu  150 0 150 900 0 0 0 0 0 0\n")
    assert procfs.usage_percent(first, second) == 50.0
    assert procfs.usage_percent(first, first) is None
    assert procfs.parse_who("ann pts/0 2024-03-01 10:00 (192.0.2.1)\n", "+0100") == [
        {"name": "ann", "terminal": "pts/0", "host": "192.0.2.1", "started": 1709283600.0}
    ]
    listing = (
        "Filesystem Type 1-blocks Used Available Capacity Mounted on\n"
        "/dev/vda ext4 1000 300 600 34% /\n"
        "tmpfs tmpfs 10 0 10 0% /run\n"
        "/dev/vdb1 xfs 100 0 100 0% /srv/my data\n"
    )
    assert [(m["mountpoint"], m["percent"]) for m in df.parse_df(listing)] == [
        ("/", 33.3),
        ("/srv/my data", 0.0),
    ]
    mounts = "srv:/export /mnt/nfs nfs4 rw 0 0\n/dev/vda / ext4 rw 0 0\n"
    assert [m["mountpoint"] for m in df.parse_remote_mounts(mounts)] == ["/mnt/nfs"]
