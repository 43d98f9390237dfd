"""inventory.collect: the machine's inventory now, whole or some sections of it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from agent.actions.context import ActionContext
from catalogue import ActionResult

if TYPE_CHECKING:
    from agent.inventory import InventoryCollector

_lock = threading.Lock()
_collectors: list[InventoryCollector] = []


def collector() -> InventoryCollector:
    """One collector for every run: it keeps CPU baselines and caches the slow probes."""
    with _lock:
        if not _collectors:
            from agent.inventory import InventoryCollector

            _collectors.append(InventoryCollector())
        return _collectors[0]


def inventory_collect(params: Any, ctx: ActionContext) -> ActionResult:
    from agent.inventory import SECTIONS

    snapshot = collector().snapshot()
    wanted = list(dict.fromkeys(params.sections or SECTIONS))
    data = {name: snapshot[name] for name in wanted}
    lines = []
    for name in wanted:
        section = data[name]
        state = f"error: {section['error']}" if "error" in section else f"{len(section)} fields"
        lines.append(f"{name}: {state}")
    os_section = snapshot.get("os") or {}
    head = f"{os_section.get('hostname') or '?'} ({os_section.get('pretty_name') or '?'})"
    return ActionResult(output="\n".join([head, *lines]), data=data)


ACTIONS = {"inventory.collect": inventory_collect}
