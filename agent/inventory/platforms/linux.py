"""Linux: /proc and /etc files for fast facts, systemd or SysV, dpkg or rpm."""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import Any

from agent.inventory.platforms.base import Platform, probe_failed
from agent.inventory.runner import read_file, run_probe
from catalogue.probes import cpuinfo, dpkg, linux_net, os_release, rpm, systemd, sysv

# Package queries and `service --status-all` (which runs every init script's
# "status") can take seconds on a loaded machine.
_SLOW_PROBE_TIMEOUT_S = 60.0


def identity() -> dict[str, Any]:
    for path in os_release.PATHS:
        text = read_file(path)
        if text is not None:
            return os_release.parse_os_identity(text)
    return os_release.parse_os_identity("")


def cpu_model() -> str | None:
    text = read_file(cpuinfo.PATH)
    return cpuinfo.parse_cpu_model(text) if text is not None else None


def _init_scripts() -> list[str]:
    try:
        entries = list(os.scandir(sysv.INIT_DIR))
    except OSError:
        return []
    return [e.name for e in entries if e.is_file() and os.access(e.path, os.X_OK)]


def services() -> dict[str, Any]:
    if os.path.isdir(systemd.RUNTIME_DIR):
        out = run_probe(systemd.ARGV, timeout=_SLOW_PROBE_TIMEOUT_S)
        if out is None:
            return {"manager": "systemd", "items": [], "error": probe_failed("systemctl")}
        return {"manager": "systemd", "items": systemd.parse_list_units(out)}
    scripts = _init_scripts()
    out = run_probe(sysv.ARGV, timeout=_SLOW_PROBE_TIMEOUT_S)
    if out is None and not scripts:
        return {"manager": None, "items": []}
    return {
        "manager": "sysv",
        "items": sysv.merge_scripts(sysv.parse_status_all(out or ""), scripts),
    }


def _uses_dpkg() -> bool:
    return os.path.exists(dpkg.DATABASE)


def software() -> dict[str, Any]:
    if _uses_dpkg():
        out = run_probe(dpkg.ARGV, timeout=_SLOW_PROBE_TIMEOUT_S)
        if out is None:
            return {"source": "dpkg", "packages": [], "error": probe_failed("dpkg-query")}
        return {"source": "dpkg", "packages": dpkg.parse_dpkg_query(out)}
    if any(os.path.isdir(path) for path in rpm.DATABASES):
        out = run_probe(rpm.ARGV, timeout=_SLOW_PROBE_TIMEOUT_S)
        if out is None:
            return {"source": "rpm", "packages": [], "error": probe_failed("rpm -qa")}
        return {"source": "rpm", "packages": rpm.parse_rpm_query(out)}
    return {"source": None, "packages": []}


def _stat_key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def software_stamp() -> Hashable | None:
    """Fingerprint the package database by inode, mtime and size.

    dpkg rewrites its status file on every change. rpm's database is a
    directory of files (BerkeleyDB, ndb or sqlite by distribution) written in
    place, so each file in it is fingerprinted.
    """
    if _uses_dpkg():
        return _stat_key(dpkg.DATABASE)
    keys: list[tuple[str, tuple[int, int, int] | None]] = []
    for directory in rpm.DATABASES:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        keys.extend((name, _stat_key(os.path.join(directory, name))) for name in names)
    return tuple(keys) or None


def net_config() -> dict[str, Any]:
    route = read_file(linux_net.ROUTE_PATH)
    resolv = read_file(linux_net.RESOLV_CONF_PATH)
    return {
        "default_gateway": linux_net.parse_proc_net_route(route) if route else None,
        "dns_servers": linux_net.parse_resolv_conf(resolv) if resolv else [],
    }


LINUX = Platform(
    family="linux",
    identity=identity,
    cpu_model=cpu_model,
    services=services,
    software=software,
    software_stamp=software_stamp,
    net_config=net_config,
    net_config_is_slow=False,
)
