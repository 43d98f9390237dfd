"""Windows: PowerShell CIM queries and the registry."""

from __future__ import annotations

import sys
from typing import Any

from agent.inventory.platforms.base import Platform, generic_identity, no_stamp, probe_failed
from agent.inventory.runner import run_probe
from catalogue.probes import windows_net, windows_os, windows_services, windows_software

# powershell.exe alone takes a second or more to start on a busy machine.
_POWERSHELL_TIMEOUT_S = 60.0
_CPU_KEY = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"


def identity() -> dict[str, Any]:
    out = run_probe(windows_os.ARGV, timeout=_POWERSHELL_TIMEOUT_S)
    parsed = windows_os.parse_win32_os(out) if out is not None else None
    return parsed or {**generic_identity(), "name": "Windows", "id": "windows"}


def cpu_model() -> str | None:
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, _CPU_KEY) as key:
            value, _ = winreg.QueryValueEx(key, "ProcessorNameString")
    except OSError:
        return None
    return str(value).strip() or None


def services() -> dict[str, Any]:
    out = run_probe(windows_services.ARGV, timeout=_POWERSHELL_TIMEOUT_S)
    items = windows_services.parse_win32_service(out) if out is not None else None
    if items is None:
        return {"manager": "windows", "items": [], "error": probe_failed("Win32_Service")}
    return {"manager": "windows", "items": items}


def software() -> dict[str, Any]:
    out = run_probe(windows_software.ARGV, timeout=_POWERSHELL_TIMEOUT_S)
    packages = windows_software.parse_uninstall_entries(out) if out is not None else None
    if packages is None:
        return {
            "source": "windows-registry",
            "packages": [],
            "error": probe_failed("Uninstall registry keys"),
        }
    return {"source": "windows-registry", "packages": packages}


def net_config() -> dict[str, Any]:
    out = run_probe(windows_net.ARGV, timeout=_POWERSHELL_TIMEOUT_S)
    parsed = windows_net.parse_adapter_config(out) if out is not None else None
    return parsed or {"default_gateway": None, "dns_servers": []}


WINDOWS = Platform(
    family="windows",
    identity=identity,
    cpu_model=cpu_model,
    services=services,
    software=software,
    software_stamp=no_stamp,
    net_config=net_config,
    net_config_is_slow=True,
)
