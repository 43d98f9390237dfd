"""Run one check: its action through the executor (policy and all), then judge and spool it.

Results are durable messages: spooled before they are sent, so results measured while
the controller cannot be reached arrive when the stream is back, each exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.checks import store
from agent.checks.scheduler import Scheduler
from agent.checks.store import Definition
from protos.deskside.v1 import agent_pb2

if TYPE_CHECKING:
    from agent.runs.executor import Executor

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 60.0
# Refusals that say nothing about the machine's health: the check could not be made.
NOT_MEASURED = frozenset({"policy_denied", "invalid_params", "not_supported", "timeout"})


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


class CheckRunner:
    def __init__(
        self,
        state_dir: Path,
        executor: Callable[[], Executor],
        report: Callable[[agent_pb2.CheckResultMessage], None],
        scheduler: Scheduler | None = None,
    ) -> None:
        self._state_dir = state_dir
        self._executor = executor
        self._report = report
        self.scheduler = scheduler or Scheduler(self.run_check)

    def received(self, message: agent_pb2.CheckSet) -> None:
        definitions = store.from_message(message)
        store.save(self._state_dir, definitions)
        self.scheduler.replace(definitions)
        log.info("received %d health checks", len(definitions))

    async def run_check(self, definition: Definition) -> None:
        try:
            result = await self._measure(definition)
        except Exception as exc:  # a check's bug must not stop the others
            log.exception("check %s crashed", definition.name)
            result = agent_pb2.CheckResultMessage(
                status="error", message=f"{type(exc).__name__}: {exc}", value_json=b"null"
            )
        result.check_id = definition.id
        result.version = definition.version
        result.at_ms = int(time.time() * 1000)
        self._report(result)

    async def _measure(self, definition: Definition) -> agent_pb2.CheckResultMessage:
        from catalogue import CatalogueError
        from catalogue import checks as catalogue_checks

        try:
            params, thresholds = catalogue_checks.validate_check(
                definition.check, definition.params, definition.thresholds
            )
            action, action_params = catalogue_checks.plan(definition.check, params)
        except CatalogueError as exc:
            return agent_pb2.CheckResultMessage(
                status="error", message=str(exc), value_json=b"null"
            )
        result = await self._executor().perform(action, action_params, CHECK_TIMEOUT_S)
        if result.error is not None and result.error.code in NOT_MEASURED:
            judged = catalogue_checks.Evaluation(
                "error", None, f"{result.error.code}: {result.error.message}"
            )
        else:
            judged = catalogue_checks.evaluate(definition.check, result, params, thresholds)
        log.debug("check %s: %s (%s)", definition.name, judged.status, judged.message)
        return agent_pb2.CheckResultMessage(
            status=judged.status,
            value_json=_json(judged.value),
            message=judged.message[:4000],
            evidence_json=_json(catalogue_checks.evidence(action, action_params, result)),
        )
