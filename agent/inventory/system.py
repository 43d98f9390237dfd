"""Host-wide facts from psutil: OS runtime details, CPU, memory and sessions."""

from __future__ import annotations

import platform
import socket
import time
from typing import Any

import psutil


class CpuInfo:
    """CPU facts that cannot change while the agent runs, read once.

    Counting physical cores reads one sysfs file per CPU on Linux, too slow
    to repeat on every snapshot.
    """

    def __init__(self, model: str | None) -> None:
        self.model = model or platform.processor() or None
        self.logical_cores = psutil.cpu_count()
        self.physical_cores = psutil.cpu_count(logical=False)
        # Machine-wide cpu_percent(interval=None) reports usage since its
        # previous call; this first call only sets that baseline.
        psutil.cpu_percent(interval=None)

    def collect(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "logical_cores": self.logical_cores,
            "physical_cores": self.physical_cores,
            "load_avg": list(psutil.getloadavg()),
            "usage_percent": psutil.cpu_percent(interval=None),
        }


def collect_os(identity: dict[str, Any], family: str, boot_time: float) -> dict[str, Any]:
    """Combine the platform's OS identity with runtime details.

    The hostname is read every time: unlike the rest it can change under a
    running agent.
    """
    return {
        **identity,
        "family": family,
        "kernel": platform.release() if family != "windows" else platform.version(),
        "arch": platform.machine(),
        "hostname": socket.gethostname(),
        "boot_time": boot_time,
        "uptime_s": max(0.0, time.time() - boot_time),
    }


def collect_memory() -> dict[str, Any]:
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return {
        "total": vm.total,
        "available": vm.available,
        "used": vm.used,
        "percent": vm.percent,
        "swap_total": swap.total,
        "swap_used": swap.used,
        "swap_free": swap.free,
    }


def collect_users() -> list[dict[str, Any]]:
    return [
        {"name": u.name, "terminal": u.terminal, "host": u.host or None, "started": u.started}
        for u in psutil.users()
    ]
