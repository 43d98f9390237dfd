"""The agent's implementations of catalogue actions, by name.

Each takes the validated parameters and an ActionContext and returns the catalogue's
ActionResult. They run in worker threads; subprocesses go through ActionContext.run so
a cancelled or timed-out run can stop them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.actions import files, network, processes, services
from agent.actions.context import ActionContext
from catalogue import ActionResult

Implementation = Callable[[Any, ActionContext], ActionResult]

IMPLEMENTATIONS: dict[str, Implementation] = {
    **services.ACTIONS,
    **processes.ACTIONS,
    **files.ACTIONS,
    **network.ACTIONS,
}
