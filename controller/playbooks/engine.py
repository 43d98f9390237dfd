"""Playing a playbook on one endpoint: its steps in order, then rollback and escalation.

Each playbook run is an asyncio task of the controller process. Every step's outcome is
committed as it ends (GET shows progress); a ticket, when attached, gets a "playbook"
event at the start and at the end, and every step's run is on its timeline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sqlalchemy import select, update

from controller.access.actor import Actor
from controller.desk import timeline, workflow
from controller.errors import DesksideError
from controller.playbooks.loader import Library
from controller.playbooks.render import RenderError, render
from controller.playbooks.schema import Playbook
from controller.playbooks.steps import StepRunner, context_view
from controller.runs.dispatch import Dispatcher
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint, PlaybookRun, Team, Ticket
from controller.storage.types import utcnow

log = logging.getLogger(__name__)
TERMINAL = frozenset({"succeeded", "failed", "escalated", "cancelled", "interrupted"})
STATES = frozenset({"queued", "running"}) | TERMINAL
MARKS = {
    "skipped": "[skipped]",
    "would_run": "[would run]",
    "would_verify": "[would verify]",
}


def _mark(record: dict[str, Any]) -> str:
    if record["state"] in MARKS:
        return MARKS[record["state"]]
    if record.get("dry_run") and record["ok"]:
        return "[would change]" if record.get("output") else "[dry run]"
    return "[ok]" if record["ok"] else "[FAILED]" if record["failed"] else "[not ok]"


def plan_lines(records: list[dict[str, Any]]) -> list[str]:
    lines = []
    for record in records:
        where = "rollback " if record["phase"] == "rollback" else ""
        params = json.dumps(record["params"], sort_keys=True) if record["params"] else ""
        head = f"{_mark(record)} {where}{record['kind']} {record['id']}"
        if record["action"]:
            head += f": {record['action']} {params}".rstrip()
        lines.append(f"{head} -- {record['why']}")
        if record.get("dry_run") and record.get("output"):
            lines += [f"      {line}" for line in str(record["output"]).splitlines()[-20:]]
    return lines


class Engine:
    def __init__(self, sessions: SessionFactory, dispatcher: Dispatcher, library: Library):
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.library = library
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._runners: dict[str, StepRunner] = {}
        self._closing = False

    def start(self, run_ids: list[str], actor: Actor) -> None:
        for run_id in run_ids:
            task = asyncio.create_task(self._execute(run_id, actor), name=f"playbook {run_id}")
            self._tasks[run_id] = task

    async def wait(self, run_ids: list[str], timeout_s: float) -> None:
        tasks = [self._tasks[r] for r in run_ids if r in self._tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    def cancel(self, run_id: str) -> bool:
        """Cancel a playbook run playing in this process (its current run is cancelled too)."""
        task = self._tasks.get(run_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def close(self) -> None:
        """At shutdown: what is still playing ends as interrupted."""
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def interrupt_left_running(self) -> int:
        """At start: playbook runs a previous process left unfinished can no longer go on."""
        async with self.sessions() as session:
            result = await session.execute(
                update(PlaybookRun)
                .where(PlaybookRun.state.in_(("queued", "running")))
                .values(
                    state="interrupted",
                    finished_at=utcnow(),
                    summary="interrupted: the controller stopped while it was playing",
                )
            )
            await session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _execute(self, run_id: str, actor: Actor) -> None:
        try:
            await self._play(run_id, actor)
        except asyncio.CancelledError:
            runner = self._runners.get(run_id)
            if runner is not None:
                await runner.cancel_current()
            state = "interrupted" if self._closing else "cancelled"
            await self._end_early(run_id, actor, state, f"{state} by {actor.name}")
        except Exception as exc:
            log.exception("playbook run %s failed", run_id)
            await self._end_early(run_id, actor, "failed", f"internal error: {exc}")
        finally:
            self._tasks.pop(run_id, None)
            self._runners.pop(run_id, None)

    async def _end_early(self, run_id: str, actor: Actor, state: str, why: str) -> None:
        async with self.sessions() as session:
            run = await session.get(PlaybookRun, run_id)
            if run is None or run.state in TERMINAL - {"cancelled"}:
                return
            lines = plan_lines(run.steps)
            await self._finish(session, run, actor, state, [*lines, why])

    async def _finish(
        self, session: Any, run: PlaybookRun, actor: Actor, state: str, lines: list[str]
    ) -> None:
        run.state, run.finished_at = state, utcnow()
        run.summary = "\n".join(
            [f"playbook {run.playbook}{' (dry run)' if run.dry_run else ''}: {state}", *lines]
        )
        ticket = await session.get(Ticket, run.ticket_id) if run.ticket_id else None
        if ticket is not None:
            timeline.record(
                session,
                ticket,
                "playbook",
                actor.name,
                body=run.summary,
                data={"playbook_run_id": run.id, "playbook": run.playbook, "state": state,
                      "dry_run": run.dry_run, "event": "finished"},
            )  # fmt: skip
        await session.commit()

    async def _save(self, run_id: str, records: list[dict[str, Any]]) -> str:
        """Store the steps so far; answers the run's state (cancelled from elsewhere?)."""
        async with self.sessions() as session:
            run = await session.get(PlaybookRun, run_id)
            assert run is not None
            run.steps = list(records)
            await session.commit()
            return run.state

    async def _begin(
        self, run_id: str, actor: Actor
    ) -> tuple[Playbook, dict[str, Any], StepRunner] | None:
        async with self.sessions() as session:
            run = await session.get(PlaybookRun, run_id)
            if run is None or run.state != "queued":
                return None
            loaded = self.library.get(run.playbook)
            if loaded is None:
                await self._finish(session, run, actor, "failed", ["no such playbook any more"])
                return None
            endpoint = await session.get(Endpoint, run.endpoint_id)
            assert endpoint is not None
            run.state, run.started_at = "running", utcnow()
            ticket = await session.get(Ticket, run.ticket_id) if run.ticket_id else None
            if ticket is not None:
                mode = " (dry run)" if run.dry_run else ""
                timeline.record(
                    session,
                    ticket,
                    "playbook",
                    actor.name,
                    body=f"Playbook {run.playbook}{mode} started on {endpoint.hostname}.",
                    data={"playbook_run_id": run.id, "playbook": run.playbook,
                          "inputs": run.inputs, "dry_run": run.dry_run, "event": "started"},
                )  # fmt: skip
            context = {
                "inputs": dict(run.inputs),
                "steps": {},
                "endpoint": {
                    "id": endpoint.id,
                    "hostname": endpoint.hostname,
                    "os": endpoint.os_family,
                },
            }
            runner = StepRunner(
                self.sessions,
                self.dispatcher,
                actor,
                run.endpoint_id,
                run.ticket_id,
                run.playbook,
                run.dry_run,
            )
            await session.commit()
        return loaded.playbook, context, runner

    async def _play(self, run_id: str, actor: Actor) -> None:
        begun = await self._begin(run_id, actor)
        if begun is None:
            return
        playbook, context, runner = begun
        self._runners[run_id] = runner
        records: list[dict[str, Any]] = []
        failure: dict[str, Any] | None = None
        for step in playbook.steps:
            record = await runner.run(step, context, "steps")
            records.append(record)
            context["steps"][step.id] = context_view(record)
            if await self._save(run_id, records) == "cancelled":
                raise asyncio.CancelledError
            if record["failed"] and not step.continue_on_error:
                failure = record
                break
        notes: list[str] = []
        state = "succeeded"
        if failure is not None:
            state = "failed"
            notes.append(f"step {failure['id']} failed: {failure['why']}")
            if not runner.dry_run:
                for step in playbook.rollback:
                    record = await runner.run(step, context, "rollback")
                    records.append(record)
                    context["steps"][step.id] = context_view(record)
                    await self._save(run_id, records)
        async with self.sessions() as session:
            run = await session.get(PlaybookRun, run_id)
            assert run is not None
            if failure is not None and playbook.escalate is not None:
                state = await self._escalate(session, run, actor, playbook, context, notes)
            await self._finish(session, run, actor, state, [*plan_lines(records), *notes])

    async def _escalate(
        self,
        session: Any,
        run: PlaybookRun,
        actor: Actor,
        playbook: Playbook,
        context: dict[str, Any],
        notes: list[str],
    ) -> str:
        assert playbook.escalate is not None
        try:
            reason = str(render(playbook.escalate.reason, context))
        except RenderError as exc:
            reason = f"{playbook.escalate.reason} (the reason's template failed: {exc})"
        reason = f"Playbook {playbook.name}: {reason}"
        team_name = playbook.escalate.team
        if run.dry_run:
            notes.append(f"would escalate to {team_name}: {reason}")
            return "failed"
        if run.ticket_id is None:
            notes.append(f"cannot fix; no ticket to escalate to {team_name}: {reason}")
            return "failed"
        team = await session.scalar(select(Team).where(Team.name == team_name))
        if team is None:
            notes.append(f"no team named {team_name}: escalated up the line instead")
        try:
            await workflow.escalate(
                session,
                actor,
                run.ticket_id,
                reason=reason,
                team_id=team.id if team is not None else None,
                commit=False,
            )
        except DesksideError as exc:
            notes.append(f"could not escalate the ticket: {exc}")
            return "failed"
        notes.append(f"escalated to {team_name if team else 'the team lead'}: {reason}")
        return "escalated"
