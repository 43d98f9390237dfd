"""The loop's way to start a fix: a playbook from the library, played by the engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.automation.loop import StartPlaybook
from controller.playbooks.engine import Engine
from controller.playbooks.service import start_playbook_runs
from controller.runs.service import Target


def playbook_fixer(engine: Engine) -> StartPlaybook:
    async def start(
        session: AsyncSession,
        actor: Actor,
        name: str,
        inputs: dict[str, Any],
        endpoint_id: str,
        ticket_id: int,
    ) -> str:
        # start_playbook_runs commits: the engine's task must find the run in the database.
        _, runs = await start_playbook_runs(
            session, actor, engine.library, name, inputs, Target(endpoint_id), ticket_id=ticket_id
        )
        engine.start([run.id for run in runs], actor)
        return runs[0].id

    return start
