"""Catalogue actions on Linux (and, where cheap, macOS) endpoints reached without an agent.

Each module implements a topic with the same result shapes, error codes and safety rules
as the agent's actions, from argument lists run through RemoteContext and read with the
parsers in catalogue/probes. ACTIONS maps catalogue names to them; an action missing
here is answered not_supported by the transport.
"""

from __future__ import annotations

from controller.transports.base import RemoteAction
from controller.transports.posix import (
    accounts,
    certs,
    clock,
    config,
    disk,
    files,
    inventory,
    network,
    processes,
    services,
    system,
)


def _merged() -> dict[str, RemoteAction]:
    found: dict[str, RemoteAction] = {}
    topics = (
        accounts, certs, clock, config, disk, files, inventory, network, processes, services, system
    )  # fmt: skip
    for module in topics:
        clashes = set(found) & set(module.ACTIONS)
        if clashes:
            raise RuntimeError(f"{module.__name__} implements {sorted(clashes)} again")
        found.update(module.ACTIONS)
    return found


ACTIONS: dict[str, RemoteAction] = _merged()
