"""Runs requested by the controller: journal first, then checks, then the action, then the spool.

Order matters: the run ID is journaled before anything else, so a second delivery of the
same run is recognised and ignored even if the agent crashes midway. Parameters are
validated again here (the controller is not trusted to have done it), and the local
policy has the last word.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext, Stopped
from agent.policy import Policy
from agent.runs.journal import Journal
from agent.runs.output import RunOutputStream, Send
from catalogue import ActionResult, CatalogueError, get, validate
from protos.deskside.v1 import agent_pb2

log = logging.getLogger(__name__)
Report = Callable[[agent_pb2.RunUpdate], None]
# Most actions end within milliseconds; a separate durable "running" update for them would
# double the spool writes and the controller's transactions per run. Only a run still going
# after this long reports that it is running (a final update carries the start time).
RUNNING_AFTER_S = 0.25


def _update(
    run_id: str, state: str, result: ActionResult | None = None, started_at_ms: int = 0
) -> agent_pb2.RunUpdate:
    payload = result.model_dump_json().encode() if result is not None else b""
    return agent_pb2.RunUpdate(
        run_id=run_id,
        state=state,
        result_json=payload,
        at_ms=int(time.time() * 1000),
        started_at_ms=started_at_ms,
    )


def _paths(params: object, fields: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for name in fields:
        value = getattr(params, name, None)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    return found


class Executor:
    def __init__(
        self,
        journal: Journal,
        policy: Policy,
        report: Report,
        workers: int = 4,
        send_output: Send | None = None,
    ) -> None:
        self._journal = journal
        self._policy = policy
        self._report = report
        self._send_output = send_output  # live output; None: nobody follows it
        self._outputs: dict[str, RunOutputStream] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="action")
        self._running: dict[str, tuple[asyncio.Task[None], ActionContext]] = {}
        self._closing = False

    def report_interrupted(self) -> None:
        """Runs cut off by a crash or kill: say so, never run them again."""
        for run_id in self._journal.unfinished():
            result = ActionResult.failure(
                "interrupted", "the agent stopped while this run was in progress"
            )
            self._finish(run_id, "interrupted", result)

    def submit(self, request: agent_pb2.RunRequest) -> None:
        if not self._journal.receive(request.run_id):
            log.info("run %s was delivered again; not running it twice", request.run_id)
            return
        context = ActionContext(dry_run=request.dry_run)
        if self._send_output is not None:
            output = RunOutputStream(request.run_id, self._send_output, asyncio.get_running_loop())
            self._outputs[request.run_id] = output
            context.emit = output.emit
        task = asyncio.create_task(self._run(request, context))
        self._running[request.run_id] = (task, context)
        task.add_done_callback(lambda _: self._running.pop(request.run_id, None))

    def cancel(self, run_id: str) -> None:
        running = self._running.get(run_id)
        if running is not None:
            task, context = running
            context.stop()
            task.cancel()

    def _finish(
        self, run_id: str, state: str, result: ActionResult, started_at_ms: int = 0
    ) -> None:
        output = self._outputs.pop(run_id, None)
        if output is not None:
            output.close()  # the last output leaves before the final update
        self._report(_update(run_id, state, result, started_at_ms))
        self._journal.finish(run_id)

    def _refusal(self, request: agent_pb2.RunRequest) -> tuple[ActionResult | None, object]:
        if request.expires_at_ms and time.time() * 1000 > request.expires_at_ms:
            return ActionResult.failure("expired", "the run arrived after its deadline"), None
        try:
            spec = get(request.action)
            raw = json.loads(request.params_json or b"{}")
            params = validate(
                request.action,
                raw if isinstance(raw, dict) else None,
                size=len(request.params_json),
            )
        except (CatalogueError, ValueError) as exc:
            return ActionResult.failure("invalid_params", str(exc)), None
        reason = self._policy.refusal(spec.name, spec.risk, _paths(params, spec.path_fields))
        if reason is not None:
            return ActionResult.failure("policy_denied", reason), None
        if request.action not in IMPLEMENTATIONS:
            return ActionResult.failure(
                "not_supported", f"this agent cannot run {request.action} yet"
            ), None
        return None, params

    async def _run(self, request: agent_pb2.RunRequest, context: ActionContext) -> None:
        run_id = request.run_id
        refusal, params = self._refusal(request)
        if refusal is not None:
            state = "expired" if refusal.error and refusal.error.code == "expired" else "failed"
            log.warning("run %s (%s) refused: %s", run_id, request.action, refusal.error)
            self._finish(run_id, state, refusal)
            return
        started = _update(run_id, "running")
        started_at_ms = started.at_ms
        loop = asyncio.get_running_loop()
        running = loop.call_later(RUNNING_AFTER_S, self._report, started)
        implementation = IMPLEMENTATIONS[request.action]
        timeout = request.timeout_ms / 1000 if request.timeout_ms else None
        try:
            result = await asyncio.wait_for(
                loop.run_in_executor(self._pool, implementation, params, context), timeout
            )
        except asyncio.CancelledError:
            running.cancel()
            context.stop()
            if self._closing:
                stopped = ActionResult.failure("interrupted", "the agent stopped during this run")
                self._finish(run_id, "interrupted", stopped, started_at_ms)
            else:
                cancelled = ActionResult.failure("cancelled", "cancelled on request")
                self._finish(run_id, "cancelled", cancelled, started_at_ms)
            raise
        except TimeoutError:
            context.stop()
            result = ActionResult.failure("timeout", f"no result within {timeout:g} s")
        except Stopped as exc:
            result = ActionResult.failure("timeout", str(exc))
        except Exception as exc:  # an action's bug becomes a failed run, not a dead agent
            log.exception("run %s (%s) crashed", run_id, request.action)
            result = ActionResult.failure("failed", f"{type(exc).__name__}: {exc}")
        running.cancel()
        self._finish(run_id, "succeeded" if result.ok else "failed", result, started_at_ms)
        log.info(
            "run %s (%s) %s", run_id, request.action, "succeeded" if result.ok else result.error
        )

    async def perform(self, action: str, params: dict[str, Any], timeout_s: float) -> ActionResult:
        """One action for a health check: validated and policed like a run, never journaled
        (a check is measured again on schedule, not resumed)."""
        request = agent_pb2.RunRequest(action=action, params_json=json.dumps(params).encode())
        refusal, model = self._refusal(request)
        if refusal is not None:
            return refusal
        context = ActionContext()
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._pool, IMPLEMENTATIONS[action], model, context)
        try:
            return await asyncio.wait_for(work, timeout_s)
        except TimeoutError:
            context.stop()
            return ActionResult.failure("timeout", f"no result within {timeout_s:g} s")
        except asyncio.CancelledError:
            context.stop()
            raise
        except Stopped as exc:
            return ActionResult.failure("timeout", str(exc))
        except Exception as exc:
            log.exception("check action %s crashed", action)
            return ActionResult.failure("failed", f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._closing = True
        for task, context in list(self._running.values()):
            context.stop()
            task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
