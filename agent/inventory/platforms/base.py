"""What every platform provides to the collector, and the fallbacks for unknown OSes."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Platform:
    """Where each OS-specific fact comes from on one kind of OS.

    ``software_stamp`` returns a value that changes whenever the package
    database does, or None when there is no cheap way to tell, in which case
    software is re-read on every slow refresh. ``net_config_is_slow`` marks
    gateway/DNS lookups that spawn processes, so the collector caches them
    like services and software.
    """

    family: str
    identity: Callable[[], dict[str, Any]]
    cpu_model: Callable[[], str | None]
    services: Callable[[], dict[str, Any]]
    software: Callable[[], dict[str, Any]]
    software_stamp: Callable[[], Hashable | None]
    net_config: Callable[[], dict[str, Any]]
    net_config_is_slow: bool


def generic_identity() -> dict[str, Any]:
    """Describe the OS from the Python runtime alone, when no probe could."""
    system = platform.system() or sys.platform
    release = platform.release() or None
    return {
        "name": system,
        "pretty_name": f"{system} {release}" if release else system,
        "version": release,
        "build": None,
        "id": system.lower(),
    }


def no_services() -> dict[str, Any]:
    return {"manager": None, "items": []}


def no_software() -> dict[str, Any]:
    return {"source": None, "packages": []}


def no_stamp() -> Hashable | None:
    return None


def no_net_config() -> dict[str, Any]:
    return {"default_gateway": None, "dns_servers": []}


def probe_failed(what: str) -> str:
    """Error text for a section whose probe ran but gave nothing usable."""
    return f"{what} gave no usable output"


GENERIC = Platform(
    family=sys.platform,
    identity=generic_identity,
    cpu_model=lambda: platform.processor() or None,
    services=no_services,
    software=no_software,
    software_stamp=no_stamp,
    net_config=no_net_config,
    net_config_is_slow=False,
)
