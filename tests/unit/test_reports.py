"""The desk report's figures on a real database, from tickets with known timestamps."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import BACKENDS, fresh_database
from sqlalchemy import update

from controller.access.actor import Actor
from controller.access.roles import Role
from controller.desk import reports, tickets, workflow
from controller.desk.tickets import TicketDraft
from controller.errors import Forbidden, InvalidInput
from controller.settings import async_database_url
from controller.storage.db import SessionFactory
from controller.storage.models import (
    Check,
    CheckState,
    Endpoint,
    Site,
    SlaPolicy,
    Team,
    Ticket,
    User,
)

SYSTEM = Actor.system("test")
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
WINDOW = dt.timedelta(seconds=30)
_ids = itertools.count()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database per test: the figures count every ticket in it."""
    with fresh_database(request.param, tmp_path) as url:
        yield async_database_url(url)


def _at(days_ago: int, hour: int) -> dt.datetime:
    return NOW.replace(hour=hour) - days_ago * DAY


async def _set(sessions: SessionFactory, ticket_id: int, **values: Any) -> None:
    async with sessions() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))
        await session.commit()


async def _open(sessions: SessionFactory, **draft: Any) -> int:
    async with sessions() as session:
        ticket = await tickets.create_ticket(
            session, SYSTEM, TicketDraft(channel="phone", requester_email="c@example.org", **draft)
        )
        return ticket.id


async def _resolve(sessions: SessionFactory, ticket_id: int) -> None:
    async with sessions() as session:
        await workflow.transition(session, SYSTEM, ticket_id, "resolved", resolution="fixed")


async def _desk(sessions: SessionFactory) -> dict[str, Any]:
    """Seven tickets (see each), two sites, agents and failing checks; the figures below
    are worked out by hand from these timestamps."""
    n = next(_ids)
    async with sessions() as session:
        lead = User(username=f"lead-{n}", role="tier2", email=f"lead{n}@example.org")
        near, far = Site(name=f"near-{n}"), Site(name=f"far-{n}")
        session.add_all([lead, near, far])
        await session.flush()
        first = Team(name=f"desk-{n}", lead_id=lead.id, members=[lead])
        second = Team(name=f"network-{n}")
        session.add_all([first, second])
        session.add(
            SlaPolicy(name=f"p3-{n}", priority=3, own_within_s=3600, resolve_within_s=14400)
        )
        await session.commit()
        ids = {"near": near.id, "far": far.id, "first": first.id, "second": second.id}
    p3 = {"impact": 2, "urgency": 2, "team_id": ids["first"]}

    # Resolved in 2 h, within its 4 h target, by the first team alone (near site).
    quick = await _open(sessions, title="quick", site_id=ids["near"], **p3)
    await _resolve(sessions, quick)
    await _set(
        sessions, quick, created_at=_at(2, 8), resolved_at=_at(2, 10), resolve_due_at=_at(2, 12)
    )
    # Escalated to the team lead, resolved after 48 h: a breach, not first contact.
    escalated = await _open(sessions, title="escalated", site_id=ids["far"], **p3)
    async with sessions() as session:
        await workflow.escalate(session, SYSTEM, escalated, reason="needs the lead")
    await _resolve(sessions, escalated)
    await _set(
        sessions,
        escalated,
        created_at=_at(3, 8),
        resolved_at=_at(1, 8),
        resolve_due_at=_at(3, 12),
    )
    # Passed to another team, resolved in 1 h: met, not first contact.
    passed = await _open(sessions, title="passed", site_id=ids["far"], **p3)
    async with sessions() as session:
        await workflow.assign(session, SYSTEM, passed, team_id=ids["second"])
    await _resolve(sessions, passed)
    await _set(
        sessions, passed, created_at=_at(1, 9), resolved_at=_at(1, 10), resolve_due_at=_at(1, 13)
    )
    # P5, no SLA policy: resolved in 4 h, first contact, outside the SLA figures.
    planning = await _open(sessions, title="planning", site_id=ids["far"])
    await _resolve(sessions, planning)
    await _set(sessions, planning, created_at=_at(0, 1), resolved_at=_at(0, 5))
    # Open now: a P3 created today, a P5 pending since before the window.
    fresh = await _open(sessions, title="fresh", site_id=ids["far"], **p3)
    await _set(sessions, fresh, created_at=_at(0, 2))
    waiting = await _open(sessions, title="waiting", site_id=ids["far"])
    async with sessions() as session:
        await workflow.transition(session, SYSTEM, waiting, "pending", reason="vendor")
    await _set(sessions, waiting, created_at=_at(10, 9))
    # Resolved before the window: counted nowhere but in the days before it.
    old = await _open(sessions, title="old", site_id=ids["far"])
    await _resolve(sessions, old)
    await _set(sessions, old, created_at=_at(20, 9), resolved_at=_at(10, 9))

    async with sessions() as session:
        endpoints = {}
        for name, site, transport, connected, seen, revoked in (
            ("up", "near", "agent", True, NOW - dt.timedelta(seconds=5), None),
            ("silent", "far", "agent", True, NOW - HOUR, None),
            ("gone", "far", "agent", False, NOW - HOUR, None),
            ("revoked", "far", "agent", False, None, NOW - DAY),
            ("sshhost", "far", "ssh", False, None, None),
        ):
            endpoint = Endpoint(
                id=str(uuid.uuid4()),
                hostname=f"{name}-{n}",
                site_id=ids[site],
                transport=transport,
                connected=connected,
                last_seen=seen,
                revoked_at=revoked,
            )
            session.add(endpoint)
            endpoints[name] = endpoint.id
        disk = Check(name=f"disk-{n}", check="disk.free", interval_s=60)
        clock = Check(name=f"clock-{n}", check="time.offset", interval_s=60)
        off = Check(name=f"off-{n}", check="service.running", interval_s=60, enabled=False)
        session.add_all([disk, clock, off])
        await session.flush()
        for check, endpoint, status, since in (
            (disk, "silent", "fail", NOW - 2 * HOUR),
            (disk, "up", "ok", NOW - 2 * HOUR),
            (clock, "up", "fail", NOW - HOUR),
            (off, "up", "fail", NOW - 3 * HOUR),  # a disabled check does not count
        ):
            session.add(
                CheckState(
                    check_id=check.id, endpoint_id=endpoints[endpoint], status=status, since=since
                )
            )
        await session.commit()
        ids.update(disk=disk.id, clock=clock.id, endpoints=endpoints)
    return ids


@pytest.fixture
async def desk(sessions: SessionFactory) -> dict[str, Any]:
    return await _desk(sessions)


async def _report(sessions: SessionFactory, actor: Actor, days: int = 7) -> reports.DeskReport:
    async with sessions() as session:
        return await reports.desk_report(session, actor, days=days, online_window=WINDOW, now=NOW)


async def test_the_figures_over_a_week(sessions: SessionFactory, desk: dict[str, Any]) -> None:
    report = await _report(sessions, SYSTEM)

    assert report.since == dt.datetime(2026, 6, 9, tzinfo=dt.UTC) and report.until == NOW
    backlog = report.backlog
    assert backlog.open_total == 2
    assert backlog.by_priority == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}
    assert backlog.by_state == {"new": 1, "assigned": 0, "in_progress": 0, "pending": 1}
    assert [(d.day.isoformat(), d.created, d.resolved, d.open_at_end) for d in backlog.per_day] == [
        ("2026-06-09", 0, 0, 1),
        ("2026-06-10", 0, 0, 1),
        ("2026-06-11", 0, 0, 1),
        ("2026-06-12", 1, 0, 2),
        ("2026-06-13", 1, 1, 2),
        ("2026-06-14", 1, 2, 1),
        ("2026-06-15", 2, 1, 2),
    ]

    resolution = report.resolution
    assert resolution.resolved == 4
    assert (resolution.sla_measured, resolution.sla_met, resolution.sla_breached) == (3, 2, 1)
    assert resolution.sla_compliance_percent == 66.7
    # 1 h, 2 h, 4 h and 48 h.
    assert resolution.mttr_mean_s == 55 * 3600 // 4
    assert resolution.mttr_median_s == 3 * 3600
    assert resolution.first_contact == 2 and resolution.fcr_percent == 50.0

    assert report.checks_failing is not None
    assert report.checks_failing.count == 2
    assert [(c.check_id, c.endpoint_id) for c in report.checks_failing.items] == [
        (desk["disk"], desk["endpoints"]["silent"]),
        (desk["clock"], desk["endpoints"]["up"]),
    ]
    assert report.agents == reports.Agents(total=3, offline=2)


async def test_a_longer_window_takes_in_older_tickets(
    sessions: SessionFactory, desk: dict[str, Any]
) -> None:
    report = await _report(sessions, SYSTEM, days=30)

    assert len(report.backlog.per_day) == 30
    assert report.resolution.resolved == 5  # "old", resolved ten days ago
    assert report.resolution.mttr_median_s == 4 * 3600
    first = report.backlog.per_day[0]
    assert (first.created, first.resolved, first.open_at_end) == (0, 0, 0)


async def test_a_site_administrator_sees_their_sites_only(
    sessions: SessionFactory, desk: dict[str, Any]
) -> None:
    usa = Actor(name="usa", role=Role.USA, user_id=10**6, site_ids=frozenset({desk["near"]}))
    report = await _report(sessions, usa)

    assert report.backlog.open_total == 0
    assert report.resolution.resolved == 1 and report.resolution.mttr_mean_s == 2 * 3600
    assert report.resolution.sla_compliance_percent == 100.0
    assert report.checks_failing is not None
    assert [c.check_id for c in report.checks_failing.items] == [desk["clock"]]
    assert report.agents == reports.Agents(total=1, offline=0)


async def test_an_empty_window_has_no_rates(sessions: SessionFactory) -> None:
    async with sessions() as session:
        report = await reports.desk_report(
            session, SYSTEM, days=1, online_window=WINDOW, now=NOW + 400 * DAY
        )
    assert report.resolution.resolved == 0
    assert report.resolution.sla_compliance_percent is None
    assert report.resolution.mttr_mean_s is None and report.resolution.mttr_median_s is None
    assert report.resolution.fcr_percent is None


async def test_requesters_and_bad_windows_are_refused(sessions: SessionFactory) -> None:
    requester = Actor(name="req", role=Role.REQUESTER, user_id=None)
    async with sessions() as session:
        with pytest.raises(Forbidden):
            await reports.desk_report(session, requester, days=7, online_window=WINDOW)
        with pytest.raises(InvalidInput, match="days"):
            await reports.desk_report(session, SYSTEM, days=0, online_window=WINDOW)
