"""The inventory collector: assembles every section, caching the slow ones."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psutil

from agent.inventory import platforms
from agent.inventory.cache import SlowResult
from agent.inventory.network import collect_interfaces
from agent.inventory.processes import ProcessSampler
from agent.inventory.storage import collect_disks
from agent.inventory.system import CpuInfo, collect_memory, collect_os, collect_users
from protos.deskside.v1 import INVENTORY_SECTIONS

log = logging.getLogger(__name__)

SECTIONS = INVENTORY_SECTIONS


def _guarded(name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Build one section; a failure becomes {"error": ...} instead of losing the rest."""
    try:
        return build()
    except Exception as exc:
        log.warning("inventory section %s failed", name, exc_info=True)
        return {"error": f"{type(exc).__name__}: {exc}"}


class InventoryCollector:
    """Collects a JSON-serialisable inventory of this machine.

    Construct one and keep it: it holds the CPU baselines that make usage
    figures meaningful and the cached results of the slow probes. Static
    facts (OS identity, CPU model and core counts, boot time) are read here,
    once. snapshot() may be called from several threads; calls are serialised.
    """

    def __init__(self, *, slow_refresh_s: float = 300.0, top_n: int = 10) -> None:
        self._platform = platforms.current()
        self._lock = threading.Lock()
        self._identity = _guarded("os", self._platform.identity)
        self._boot_time = psutil.boot_time()
        self._cpu = CpuInfo(self._platform.cpu_model())
        self._processes = ProcessSampler(top_n)
        # Slow results are guarded here, not only per snapshot, so that a failed
        # probe is cached like a good one instead of being retried on every call.
        self._services = SlowResult(
            lambda: _guarded("services", self._platform.services), slow_refresh_s
        )
        self._software = SlowResult(
            lambda: _guarded("software", self._platform.software),
            slow_refresh_s,
            stamp=self._platform.software_stamp,
        )
        self._net_config: Callable[[], dict[str, Any]] = self._platform.net_config
        if self._platform.net_config_is_slow:
            self._net_config = SlowResult(
                lambda: _guarded("network", self._platform.net_config), slow_refresh_s
            ).get
        self._builders: dict[str, Callable[[], dict[str, Any]]] = {
            "os": lambda: collect_os(self._identity, self._platform.family, self._boot_time),
            "cpu": self._cpu.collect,
            "memory": collect_memory,
            "disks": lambda: {"mounts": collect_disks()},
            "network": self._network,
            "processes": self._processes.sample,
            "services": self._services.get,
            "software": self._software.get,
            "users": lambda: {"sessions": collect_users()},
        }

    def snapshot(self) -> dict[str, Any]:
        """Return {section: dict} for every name in SECTIONS.

        Fast sections are read fresh; services and software come from the
        cache and may be up to ``slow_refresh_s`` old; they carry no
        timestamp, so their JSON changes only when what they describe does.
        Cached sections are shared between calls: treat the result as
        read-only. The first call runs the slow probes and can take seconds.
        """
        with self._lock:
            return {name: _guarded(name, self._builders[name]) for name in SECTIONS}

    def _network(self) -> dict[str, Any]:
        return {"interfaces": collect_interfaces(), **self._net_config()}
