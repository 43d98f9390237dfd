"""macOS: sw_vers, launchd, system_profiler, route and scutil."""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import Any

from agent.inventory.platforms.base import Platform, generic_identity, probe_failed
from agent.inventory.runner import run_probe
from catalogue.probes import launchctl, macos_net, sw_vers, sysctl, system_profiler


def identity() -> dict[str, Any]:
    out = run_probe(sw_vers.ARGV)
    parsed = sw_vers.parse_sw_vers(out) if out is not None else None
    return parsed or {**generic_identity(), "name": "macOS", "id": "macos"}


def cpu_model() -> str | None:
    out = run_probe(sysctl.ARGV)
    return sysctl.parse_brand_string(out) if out is not None else None


def services() -> dict[str, Any]:
    out = run_probe(launchctl.ARGV)
    if out is None:
        return {"manager": "launchd", "items": [], "error": probe_failed("launchctl list")}
    return {"manager": "launchd", "items": launchctl.parse_launchctl_list(out)}


def software() -> dict[str, Any]:
    out = run_probe(system_profiler.ARGV, timeout=system_profiler.TIMEOUT_S)
    apps = system_profiler.parse_applications(out) if out is not None else None
    if apps is None:
        return {"source": "macos", "packages": [], "error": probe_failed("system_profiler")}
    return {"source": "macos", "packages": apps}


def software_stamp() -> Hashable | None:
    try:
        return os.stat(system_profiler.WATCHED_DIR).st_mtime_ns
    except OSError:
        return None


def net_config() -> dict[str, Any]:
    route = run_probe(macos_net.ROUTE_ARGV)
    dns = run_probe(macos_net.SCUTIL_DNS_ARGV)
    return {
        "default_gateway": macos_net.parse_route_get(route) if route else None,
        "dns_servers": macos_net.parse_scutil_dns(dns) if dns else [],
    }


MACOS = Platform(
    family="darwin",
    identity=identity,
    cpu_model=cpu_model,
    services=services,
    software=software,
    software_stamp=software_stamp,
    net_config=net_config,
    net_config_is_slow=True,
)
