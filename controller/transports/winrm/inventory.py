"""An agentless Windows endpoint's inventory, in the agent's section shapes.

os, services, software and the gateway/DNS part of network come from the same probe
scripts and parsers the agent's Windows inventory runs (catalogue.probes.windows_*),
assembled as agent/inventory/platforms/windows.py assembles them. cpu, memory and disks
come from one more CIM query; processes from process.list's script. Per-interface
counters and logged-in users are not collected over WinRM: those sections say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalogue.probes import windows_net, windows_os, windows_services, windows_software
from controller.transports.base import RemoteContext
from controller.transports.winrm.actions import PROCESS_LIST, parse_process_list
from controller.transports.winrm.client import encoded_argv
from controller.transports.winrm.common import EPOCH_FN, json_answer, run_script
from protos.deskside.v1 import INVENTORY_SECTIONS

_TIMEOUT_S = 120.0  # Win32_Service and the Uninstall keys are slow on a busy machine
_TOP = 10
_NOT_COLLECTED = "not collected over WinRM"

# Sizes in bytes, times in UNIX seconds: the inventory's conventions (agent/inventory).
_MACHINE = (
    EPOCH_FN + "$os = Get-CimInstance Win32_OperatingSystem\n"
    "$cpu = @(Get-CimInstance Win32_Processor)\n"
    "$disks = @(Get-CimInstance Win32_LogicalDisk -Filter 'DriveType=3')\n"
    "[pscustomobject]@{ hostname = $os.CSName; arch = $os.OSArchitecture;"
    " kernel = $os.Version; boot_time = Epoch $os.LastBootUpTime;"
    " now = Epoch (Get-Date);"
    " cpu_model = $cpu[0].Name;"
    " logical = ($cpu | Measure-Object NumberOfLogicalProcessors -Sum).Sum;"
    " physical = ($cpu | Measure-Object NumberOfCores -Sum).Sum;"
    " load = ($cpu | Measure-Object LoadPercentage -Average).Average;"
    " mem_total = [long]$os.TotalVisibleMemorySize * 1024;"
    " mem_free = [long]$os.FreePhysicalMemory * 1024;"
    " swap_total = [long]$os.SizeStoredInPagingFiles * 1024;"
    " swap_free = [long]$os.FreeSpaceInPagingFiles * 1024;"
    " disks = @($disks | ForEach-Object { @{ device = $_.DeviceID; fstype = $_.FileSystem;"
    " total = $_.Size; free = $_.FreeSpace } }) } | ConvertTo-Json -Depth 3 -Compress\n"
)


def _probe(ctx: RemoteContext, argv: list[str]) -> str | None:
    """A catalogue probe's stdout; its script (ARGV[-1]) goes whole as -EncodedCommand."""
    done = ctx.run(encoded_argv(argv[-1]), timeout=_TIMEOUT_S)
    return done.stdout if done.returncode == 0 else None


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def machine_sections(answer: Any) -> dict[str, dict[str, Any]]:
    """cpu, memory, disks and the os extras from the _MACHINE script's answer."""
    if not isinstance(answer, dict):
        failed = {"error": "Win32 CIM classes gave no usable output"}
        return {"cpu": failed, "memory": failed, "disks": failed, "os_extra": {}}
    total, free = int(answer.get("mem_total") or 0), int(answer.get("mem_free") or 0)
    swap_total, swap_free = int(answer.get("swap_total") or 0), int(answer.get("swap_free") or 0)
    mounts = []
    for disk in answer.get("disks") or []:
        size, left = int(disk.get("total") or 0), int(disk.get("free") or 0)
        mounts.append(
            {
                "device": disk.get("device"),
                "mountpoint": f"{disk.get('device')}\\",
                "fstype": disk.get("fstype"),
                "total": size,
                "used": size - left,
                "free": left,
                "percent": _percent(size - left, size),
            }
        )
    boot, now = answer.get("boot_time"), answer.get("now")
    return {
        "cpu": {
            "model": answer.get("cpu_model"),
            "logical_cores": answer.get("logical"),
            "physical_cores": answer.get("physical"),
            "load_avg": None,  # Windows keeps no load average
            "usage_percent": answer.get("load"),
        },
        "memory": {
            "total": total,
            "available": free,
            "used": total - free,
            "percent": _percent(total - free, total),
            "swap_total": swap_total,
            "swap_used": swap_total - swap_free,
            "swap_free": swap_free,
        },
        "disks": {"mounts": mounts},
        "os_extra": {
            "family": "windows",
            "kernel": answer.get("kernel"),
            "arch": answer.get("arch"),
            "hostname": answer.get("hostname"),
            "boot_time": boot,
            "uptime_s": now - boot
            if isinstance(boot, int | float) and isinstance(now, int | float)
            else None,
        },
    }


def _processes(ctx: RemoteContext) -> dict[str, Any]:
    done = run_script(ctx, PROCESS_LIST, timeout=_TIMEOUT_S)
    rows = parse_process_list(json_answer(done)) if done.returncode == 0 else None
    if rows is None:
        return {"error": "process list gave no usable output"}

    def top(key: str) -> list[dict[str, Any]]:
        ranked = sorted(rows, key=lambda r: r.get(key) or 0, reverse=True)[:_TOP]
        return [
            {
                "pid": r["pid"],
                "name": r["name"],
                "username": r["user"],
                "cpu_percent": r["cpu_percent"],
                "rss": r["rss"],
            }
            for r in ranked
        ]

    return {"count": len(rows), "top_cpu": top("cpu_percent"), "top_memory": top("rss")}


def _os(ctx: RemoteContext, extra: dict[str, Any]) -> dict[str, Any]:
    out = _probe(ctx, windows_os.ARGV)
    parsed = windows_os.parse_win32_os(out) if out is not None else None
    if parsed is None:
        return {"error": "Win32_OperatingSystem gave no usable output"}
    return {**parsed, **extra}


def _services(ctx: RemoteContext) -> dict[str, Any]:
    out = _probe(ctx, windows_services.ARGV)
    items = windows_services.parse_win32_service(out) if out is not None else None
    if items is None:
        return {"manager": "windows", "items": [], "error": "Win32_Service gave no usable output"}
    return {"manager": "windows", "items": items}


def _software(ctx: RemoteContext) -> dict[str, Any]:
    out = _probe(ctx, windows_software.ARGV)
    packages = windows_software.parse_uninstall_entries(out) if out is not None else None
    if packages is None:
        return {
            "source": "windows-registry",
            "packages": [],
            "error": "Uninstall registry keys gave no usable output",
        }
    return {"source": "windows-registry", "packages": packages}


def _network(ctx: RemoteContext) -> dict[str, Any]:
    out = _probe(ctx, windows_net.ARGV)
    parsed = windows_net.parse_adapter_config(out) if out is not None else None
    config = parsed or {"default_gateway": None, "dns_servers": []}
    return {"interfaces": [], **config, "error": f"interfaces: {_NOT_COLLECTED}"}


def collect(ctx: RemoteContext, sections: list[str] | None = None) -> dict[str, Any]:
    """The wanted sections (default: all), each its agent shape or {"error": ...}."""
    wanted = [s for s in INVENTORY_SECTIONS if sections is None or s in sections]
    machine: dict[str, dict[str, Any]] = {}
    if {"os", "cpu", "memory", "disks"} & set(wanted):
        done = run_script(ctx, _MACHINE, timeout=_TIMEOUT_S)
        machine = machine_sections(json_answer(done) if done.returncode == 0 else None)
    readers: dict[str, Callable[[], dict[str, Any]]] = {
        "os": lambda: _os(ctx, machine["os_extra"]),
        "cpu": lambda: machine["cpu"],
        "memory": lambda: machine["memory"],
        "disks": lambda: machine["disks"],
        "network": lambda: _network(ctx),
        "processes": lambda: _processes(ctx),
        "services": lambda: _services(ctx),
        "software": lambda: _software(ctx),
        "users": lambda: {"sessions": [], "error": _NOT_COLLECTED},
    }
    return {name: readers[name]() for name in wanted}
