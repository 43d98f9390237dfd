"""The loop on a real database: ticket, fix, verify, resolve; flap limit; holds; hand-over."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.automation import holds
from controller.automation.loop import Loop
from controller.storage.db import SessionFactory
from controller.storage.models import (
    Check,
    CheckResult,
    CheckState,
    Endpoint,
    PlaybookRun,
    Site,
    Team,
    Ticket,
    TicketEvent,
    User,
)
from controller.storage.types import utcnow

ADMIN = Actor.system("test")
_n = itertools.count()


class Fixer:
    """Stands in for the playbook engine: records what the loop asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int, str]] = []

    async def __call__(
        self,
        session: AsyncSession,
        actor: Actor,
        playbook: str,
        inputs: dict[str, Any],
        endpoint_id: str,
        ticket_id: int,
    ) -> str:
        run_id = str(uuid.uuid4())
        session.add(
            PlaybookRun(
                id=run_id,
                playbook=playbook,
                playbook_digest="0" * 64,
                endpoint_id=endpoint_id,
                ticket_id=ticket_id,
                state="running",
                requested_by=actor.name,
                correlation_id=actor.request_id,
            )
        )
        self.asked.append((playbook, endpoint_id, ticket_id, actor.request_id))
        return run_id


async def _lab(sessions: SessionFactory, **check: Any) -> tuple[int, str, int]:
    n = next(_n)
    async with sessions() as session:
        lead = User(username=f"lead-{n}", role="tier2")
        site = Site(name=f"site-{n}")
        session.add_all([lead, site])
        await session.flush()
        team = Team(name=f"ops-{n}", lead_id=lead.id, members=[lead])
        endpoint = Endpoint(id=str(uuid.uuid4()), hostname=f"pc-{n}", site_id=site.id)
        session.add_all([team, endpoint])
        await session.flush()
        row = Check(
            name=f"spooler-{n}",
            check="service.running",
            params={"name": "spooler"},
            endpoint_ids=[endpoint.id],
            interval_s=1,
            playbook="service-down",
            team_id=team.id,
            cooldown_s=0,
            **check,
        )
        session.add(row)
        await session.flush()
        session.add(CheckState(check_id=row.id, endpoint_id=endpoint.id, status="ok"))
        await session.commit()
        return row.id, endpoint.id, site.id


async def _result(sessions: SessionFactory, check_id: int, endpoint_id: str, status: str) -> int:
    async with sessions() as session:
        result = CheckResult(
            check_id=check_id,
            endpoint_id=endpoint_id,
            status=status,
            value={"state": "running" if status == "ok" else "stopped"},
            message=f"spooler is {'running' if status == 'ok' else 'stopped'}",
            evidence={"pid": 42} if status == "ok" else {},
            at=utcnow(),
            correlation_id=f"corr-{uuid.uuid4().hex[:8]}",
        )
        session.add(result)
        await session.flush()
        state = await session.get(CheckState, (check_id, endpoint_id))
        assert state is not None
        state.status, state.last_result_id = status, result.id
        await session.commit()
        return result.id


async def _flip(
    loop: Loop, sessions: SessionFactory, check_id: int, endpoint_id: str, old: str, new: str
) -> None:
    result_id = await _result(sessions, check_id, endpoint_id, new)
    await loop.on_change(check_id, endpoint_id, old, new, result_id)


async def _state(sessions: SessionFactory, check_id: int, endpoint_id: str) -> CheckState:
    async with sessions() as session:
        state = await session.get(CheckState, (check_id, endpoint_id))
        assert state is not None
        return state


async def _ticket(sessions: SessionFactory, ticket_id: int) -> Ticket:
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def test_a_failure_opens_a_ticket_runs_the_playbook_and_recovery_resolves_it(
    sessions: SessionFactory,
) -> None:
    fixer = Fixer()
    loop = Loop(sessions, fixer)
    check_id, endpoint_id, _ = await _lab(sessions)
    await _flip(loop, sessions, check_id, endpoint_id, "ok", "fail")
    state = await _state(sessions, check_id, endpoint_id)
    assert state.ticket_id is not None and len(state.fixes) == 1
    ticket = await _ticket(sessions, state.ticket_id)
    assert ticket.channel == "monitoring" and "failing" in ticket.title
    (asked,) = fixer.asked
    assert asked[:3] == ("service-down", endpoint_id, ticket.id)
    assert asked[3].startswith("corr-"), "the check result's correlation id goes along"

    await _flip(loop, sessions, check_id, endpoint_id, "fail", "ok")
    resolved = await _ticket(sessions, ticket.id)
    assert resolved.state == "resolved"
    assert (
        "service-down" in resolved.resolution and "verified by check result" in resolved.resolution
    )
    async with sessions() as session:
        kinds = list(
            await session.scalars(
                select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
            )
        )
    assert kinds.count("check") == 2 and "state" in kinds


async def test_a_flapping_service_stops_being_fixed_after_the_limit(
    sessions: SessionFactory,
) -> None:
    fixer = Fixer()
    loop = Loop(sessions, fixer)
    check_id, endpoint_id, _ = await _lab(sessions, max_fixes=3)
    for _ in range(5):
        await _flip(loop, sessions, check_id, endpoint_id, "ok", "fail")
        await _flip(loop, sessions, check_id, endpoint_id, "fail", "ok")
    assert len(fixer.asked) == 3, "fixed three times, then left to a person"
    state = await _state(sessions, check_id, endpoint_id)
    assert state.ticket_id is not None
    ticket = await _ticket(sessions, state.ticket_id)
    assert ticket.escalation_level == 1, "handed over once, up the line"
    async with sessions() as session:
        escalations = list(
            await session.scalars(select(TicketEvent.body).where(TicketEvent.kind == "escalation"))
        )
    assert sum("automatic fixes" in body for body in escalations) >= 1


async def test_maintenance_windows_and_the_pause_hold_everything(
    sessions: SessionFactory,
) -> None:
    fixer = Fixer()
    loop = Loop(sessions, fixer)
    check_id, endpoint_id, site_id = await _lab(sessions)
    async with sessions() as session:
        await holds.open_window(
            session,
            ADMIN,
            site_id=site_id,
            starts_at=utcnow() - dt.timedelta(minutes=1),
            ends_at=utcnow() + dt.timedelta(hours=1),
            reason="patching",
        )
    await _flip(loop, sessions, check_id, endpoint_id, "ok", "fail")
    assert (await _state(sessions, check_id, endpoint_id)).ticket_id is None
    assert fixer.asked == []
    async with sessions() as session:
        for window in await holds.list_windows(session, ADMIN):
            await holds.close_window(session, ADMIN, window.id)
        await holds.set_paused(session, ADMIN, True, "change freeze")
    await _flip(loop, sessions, check_id, endpoint_id, "fail", "fail")
    assert (await _state(sessions, check_id, endpoint_id)).ticket_id is None
    async with sessions() as session:
        await holds.set_paused(session, ADMIN, False, "")
    await _flip(loop, sessions, check_id, endpoint_id, "ok", "fail")
    assert (await _state(sessions, check_id, endpoint_id)).ticket_id is not None


async def test_a_playbook_that_cannot_fix_hands_over_once(sessions: SessionFactory) -> None:
    fixer = Fixer()
    loop = Loop(sessions, fixer)
    check_id, endpoint_id, _ = await _lab(sessions)
    await _flip(loop, sessions, check_id, endpoint_id, "ok", "fail")
    state = await _state(sessions, check_id, endpoint_id)
    async with sessions() as session:
        run = await session.get(PlaybookRun, state.playbook_run_id)
        assert run is not None
        run.state, run.summary = "failed", "the service would not start"
        await session.commit()
    await loop.sweep()
    await loop.sweep()
    after = await _state(sessions, check_id, endpoint_id)
    assert after.escalated and len(fixer.asked) == 1, "no second attempt, no loop"
    assert after.ticket_id is not None
    ticket = await _ticket(sessions, after.ticket_id)
    assert ticket.escalation_level == 1


async def test_a_fix_is_given_time_to_be_verified_before_another(
    sessions: SessionFactory,
) -> None:
    fixer = Fixer()
    loop = Loop(sessions, fixer)
    check_id, endpoint_id, _ = await _lab(sessions)
    await _flip(loop, sessions, check_id, endpoint_id, "ok", "fail")
    state = await _state(sessions, check_id, endpoint_id)
    async with sessions() as session:
        run = await session.get(PlaybookRun, state.playbook_run_id)
        assert run is not None
        run.state, run.finished_at = "succeeded", utcnow()
        await session.commit()
    await loop.sweep()
    assert len(fixer.asked) == 1, "no result since the fix: wait for the check"
    await _result(sessions, check_id, endpoint_id, "fail")  # still failing after the fix
    await loop.sweep()
    assert len(fixer.asked) == 2, "the fix did not hold: fix again (within the limit)"
