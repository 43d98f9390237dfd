"""The agent's implementations of catalogue actions, by name.

Every module in this package that defines ACTIONS (a dict of action name to function)
contributes to IMPLEMENTATIONS. A function takes the validated parameters and an
ActionContext and returns the catalogue's ActionResult. They run in worker threads;
subprocesses go through ActionContext.run so a cancelled or timed-out run stops them.
Heavy libraries are imported inside the functions that need them, not here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from agent.actions.context import ActionContext
from catalogue import ActionResult

Implementation = Callable[[Any, ActionContext], ActionResult]


def _discover() -> dict[str, Implementation]:
    found: dict[str, Implementation] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        actions: dict[str, Implementation] = getattr(module, "ACTIONS", {})
        clashes = set(found) & set(actions)
        if clashes:
            raise RuntimeError(f"{module_info.name} implements {sorted(clashes)} again")
        found.update(actions)
    return found


IMPLEMENTATIONS: dict[str, Implementation] = _discover()
