"""One playbook step: its condition, its run through the runs machinery, its verdict.

A step's run is a real run (with the ticket's id, so it is on the ticket's timeline with
its evidence). A run not ended within the step's timeout (an offline endpoint, a stuck
agent) is cancelled and the step has failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from catalogue import CATALOGUE, Risk
from controller.access.actor import Actor
from controller.errors import DesksideError
from controller.playbooks.render import RenderError, evaluate, render
from controller.playbooks.schema import Step
from controller.runs.dispatch import Dispatcher
from controller.runs.service import TERMINAL, RunAsk, Target, cancel_run, create_runs
from controller.storage.db import SessionFactory
from controller.storage.models import Run
from controller.storage.types import utcnow

POLL_S = 2.0
# Past the step's own timeout, how long to wait for the agent to report that timeout.
SLACK_S = 15.0
MAX_OUTPUT = 4000
DEFAULT_EXPECT = "result.ok"


@dataclass
class StepRunner:
    sessions: SessionFactory
    dispatcher: Dispatcher
    actor: Actor
    endpoint_id: str
    ticket_id: int | None
    playbook: str
    dry_run: bool
    current_run: str | None = None  # the run in flight, cancelled with the playbook

    async def run(self, step: Step, context: dict[str, Any], phase: str) -> dict[str, Any]:
        """The step's record for PlaybookRun.steps; record["failed"] says if it stops the play."""
        record: dict[str, Any] = {
            "id": step.id,
            "phase": phase,
            "kind": step.kind,
            "action": step.action,
            "params": {},
            "run_id": None,
            "state": "",
            "ok": False,
            "skipped": False,
            "failed": False,
            "why": "",
            "dry_run": False,
            "started_at": utcnow().isoformat(),
        }
        try:
            await self._run(step, context, record)
        except RenderError as exc:
            record.update(state="error", why=f"expression: {exc}")
            record["failed"] = step.kind != "check"
        record["finished_at"] = utcnow().isoformat()
        return record

    async def _run(self, step: Step, context: dict[str, Any], record: dict[str, Any]) -> None:
        if step.when is not None and not evaluate(step.when, context):
            record.update(state="skipped", skipped=True, ok=True, why=f"when false: {step.when}")
            return
        params = render(step.params, context) if step.action else {}
        record["params"] = params
        if step.action is None:  # an assertion on earlier results
            ok = bool(evaluate(step.expect or DEFAULT_EXPECT, {**context, "result": None}))
            record.update(state="evaluated", ok=ok, why=f"{step.expect}: {ok}")
            record["failed"] = not ok and not self.dry_run
            return
        spec = CATALOGUE[step.action]
        dry = False
        if self.dry_run and spec.risk is not Risk.READ:
            if not spec.dry_run:
                record.update(state="would_run", ok=True, why="would run (no dry-run)")
                return
            dry = True
        if self.dry_run and step.kind == "verify":
            record.update(state="would_verify", ok=True, why="would verify after the changes")
            return
        record["dry_run"] = dry
        result, state, why = await self._start_and_wait(step, params, dry, record)
        view = _view(result, state)
        view["ok"] = state == "succeeded" and view["error"] is None
        record.update(view)
        expect = step.expect or DEFAULT_EXPECT
        ok = False
        if state in ("succeeded", "failed"):
            try:
                ok = bool(evaluate(expect, {**context, "result": view}))
            except RenderError:
                if state == "succeeded":
                    raise
        record["ok"] = ok
        if why:
            record["why"] = why
        elif not ok:
            error = record.get("error") or {}
            record["why"] = error.get("message") or f"expected {expect}"
        else:
            record["why"] = _last_line(record.get("output") or "") or state
        record["failed"] = not ok and step.kind != "check"

    async def _start_and_wait(
        self, step: Step, params: dict[str, Any], dry: bool, record: dict[str, Any]
    ) -> tuple[dict[str, Any], str, str]:
        assert step.action is not None
        ask = RunAsk(
            action=step.action,
            params=params,
            dry_run=dry,
            ticket_id=self.ticket_id,
            timeout_s=step.timeout_s,
            expires_at=utcnow() + dt.timedelta(seconds=step.timeout_s),
            reason=f"playbook {self.playbook}, step {step.id}",
        )
        try:
            async with self.sessions() as session:
                _, runs = await create_runs(
                    session,
                    self.actor,
                    ask,
                    Target(endpoint_id=self.endpoint_id),
                    params_size=len(json.dumps(params)),
                    before_commit=self.dispatcher.mark_sendable,
                )
        except DesksideError as exc:
            return {}, "refused", str(exc)
        run = runs[0]
        record["run_id"] = run.id
        self.current_run = run.id
        try:
            self.dispatcher.send(runs)
            return await self._wait(run.id, step.timeout_s + SLACK_S)
        finally:
            self.current_run = None

    async def _wait(self, run_id: str, timeout_s: float) -> tuple[dict[str, Any], str, str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            ended = await self.dispatcher.wait_ended([run_id], max(min(POLL_S, remaining), 0))
            if run_id in ended:
                return ended[run_id].result or {}, ended[run_id].state, ""
            async with self.sessions() as session:
                run = await session.get(Run, run_id)
                if run is not None and run.state in TERMINAL:
                    return run.result or {}, run.state, ""
                if remaining <= 0:
                    await self.cancel_current(session)
                    return {}, "timeout", f"not ended within {timeout_s:g} s: cancelled"

    async def cancel_current(self, session: Any = None) -> None:
        """Cancel the run in flight, if any (the playbook was cancelled or timed out)."""
        run_id = self.current_run
        if run_id is None:
            return
        if session is None:
            async with self.sessions() as fresh:
                await self._cancel(fresh, run_id)
        else:
            await self._cancel(session, run_id)

    async def _cancel(self, session: Any, run_id: str) -> None:
        try:
            run = await cancel_run(session, self.actor, run_id)
        except DesksideError:  # ended meanwhile
            return
        self.dispatcher.cancel(run)


def _view(result: dict[str, Any], state: str) -> dict[str, Any]:
    output = str(result.get("output") or "")
    return {
        "state": state,
        "changed": bool(result.get("changed")),
        "data": result.get("data"),
        "output": output[-MAX_OUTPUT:],
        "error": result.get("error"),
        "evidence": result.get("evidence"),
        "rollback": result.get("rollback"),
    }


def context_view(record: dict[str, Any]) -> dict[str, Any]:
    """What later steps' expressions see of a step: steps.<id>.ok, .data, ..."""
    keys = ("ok", "changed", "state", "data", "output", "error", "evidence", "rollback")
    view = {key: record.get(key) for key in keys}
    view["skipped"] = record.get("skipped", False)
    return view


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1][:300] if text.strip() else ""
