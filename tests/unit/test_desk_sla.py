"""The SLA clock on tickets, on SQLite and PostgreSQL, with time passed in explicitly."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from controller.desk import sla
from controller.desk.sla import SlaTransition
from controller.storage.db import SessionFactory
from controller.storage.models import BusinessCalendar, Category, Site, SlaPolicy, Ticket

H = 3600
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
# Tests share one database per backend: each takes its own priority so policies never mix.
_priorities = itertools.count(1000)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


# Monday 23 November 2026, 08:00 in Paris (UTC+1).
MONDAY_8_PARIS = utc(2026, 11, 23, 7)


@pytest.fixture
async def session(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s
        await s.commit()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row


async def _office(
    session: AsyncSession, timezone: str = "Europe/Paris", opens: str = "08:00"
) -> BusinessCalendar:
    hours = {day: [[opens, "17:00"]] for day in WORKDAYS}
    return await _add(
        session,
        BusinessCalendar(name=_name("office"), timezone=timezone, hours=hours, holidays=[]),
    )


async def _policy(session: AsyncSession, priority: int, **fields: Any) -> SlaPolicy:
    values: dict[str, Any] = {
        "own_within_s": 4 * H,
        "resolve_within_s": 8 * H,
        "breach_actions": ["notify"],
        **fields,
    }
    return await _add(session, SlaPolicy(name=_name("sla"), priority=priority, **values))


async def _ticket(session: AsyncSession, priority: int, **fields: Any) -> Ticket:
    values: dict[str, Any] = {"created_at": MONDAY_8_PARIS, "priority": priority, **fields}
    return await _add(session, Ticket(title="printer jammed", channel="phone", **values))


async def test_the_most_specific_policy_wins(session: AsyncSession) -> None:
    priority = next(_priorities)
    site = await _add(session, Site(name=_name("site")))
    other_site = await _add(session, Site(name=_name("site")))
    root_path = _name("hardware")
    root = await _add(session, Category(name="hardware", path=root_path))
    child = await _add(
        session, Category(name="printer", parent_id=root.id, path=f"{root_path}/printer")
    )
    unrelated = await _add(session, Category(name="software", path=_name("software")))
    anywhere = await _policy(session, priority)
    at_site = await _policy(session, priority, site_id=site.id)
    for_root = await _policy(session, priority, category_id=root.id)
    for_child = await _policy(session, priority, category_id=child.id)
    site_and_root = await _policy(session, priority, site_id=site.id, category_id=root.id)
    await _policy(session, priority, site_id=other_site.id, category_id=child.id)
    await _policy(session, priority + 1000)

    async def pick(site_id: int | None, category_id: int | None) -> SlaPolicy | None:
        return await sla.policy_for(
            session, priority=priority, site_id=site_id, category_id=category_id
        )

    # Site and (an ancestor) category beats a category-only match, even a deeper one.
    assert await pick(site.id, child.id) is site_and_root
    assert await pick(site.id, root.id) is site_and_root
    # Category only: the deepest ancestor wins.
    assert await pick(None, child.id) is for_child
    assert await pick(None, root.id) is for_root
    # A category elsewhere in the tree does not match: site only, then neither.
    assert await pick(site.id, unrelated.id) is at_site
    assert await pick(site.id, None) is at_site
    assert await pick(None, None) is anywhere
    assert await pick(None, unrelated.id) is anywhere
    assert (
        await sla.policy_for(session, priority=next(_priorities), site_id=None, category_id=None)
        is None
    )


async def test_start_sets_due_times_in_business_hours(session: AsyncSession) -> None:
    priority = next(_priorities)
    office = await _office(session)
    policy = await _policy(
        session, priority, calendar_id=office.id, own_within_s=2 * H, resolve_within_s=9 * H
    )
    # Friday 27 November 16:00 Paris: one business hour left that day.
    friday = utc(2026, 11, 27, 15)
    ticket = await _ticket(session, priority, created_at=friday)
    await sla.start(session, ticket, friday)
    assert ticket.sla_policy_id == policy.id
    assert ticket.own_due_at == utc(2026, 11, 30, 8)  # Monday 09:00 Paris
    assert ticket.resolve_due_at == utc(2026, 11, 30, 15)  # Monday 16:00 Paris
    assert ticket.sla_state == "running"
    assert ticket.sla_paused_s == 0

    no_policy = await _ticket(session, next(_priorities))
    await sla.start(session, no_policy, MONDAY_8_PARIS)
    assert (no_policy.sla_policy_id, no_policy.sla_state) == (None, "none")
    assert no_policy.own_due_at is None and no_policy.resolve_due_at is None


async def test_round_the_clock_without_a_calendar(session: AsyncSession) -> None:
    priority = next(_priorities)
    await _policy(session, priority, own_within_s=1 * H, resolve_within_s=30 * H)
    ticket = await _ticket(session, priority)
    await sla.start(session, ticket, MONDAY_8_PARIS)
    assert ticket.own_due_at == utc(2026, 11, 23, 8)
    assert ticket.resolve_due_at == utc(2026, 11, 24, 13)


async def test_pause_and_resume_push_due_times_by_business_time_only(
    session: AsyncSession,
) -> None:
    priority = next(_priorities)
    office = await _office(session)
    await _policy(
        session, priority, calendar_id=office.id, own_within_s=4 * H, resolve_within_s=18 * H
    )
    ticket = await _ticket(session, priority)
    owned = await _ticket(session, priority, owned_at=utc(2026, 11, 23, 8))
    for t in (ticket, owned):
        await sla.start(session, t, MONDAY_8_PARIS)
    assert ticket.own_due_at == utc(2026, 11, 23, 11)  # Monday 12:00 Paris
    assert ticket.resolve_due_at == utc(2026, 11, 24, 16)  # Tuesday 17:00 Paris

    paused_at = utc(2026, 11, 23, 9)  # Monday 10:00 Paris
    for t in (ticket, owned):
        sla.pause(t, paused_at)
        sla.pause(t, utc(2026, 11, 23, 12))  # already paused: nothing moves
        assert (t.sla_paused_at, t.sla_state) == (paused_at, "paused")
    # Resumed Tuesday 09:00 Paris: 7 business hours on Monday and 1 on Tuesday, not 23.
    resumed_at = utc(2026, 11, 24, 8)
    for t in (ticket, owned):
        await sla.resume(session, t, resumed_at)
        assert t.sla_paused_at is None
        assert t.sla_paused_s == 8 * H
        assert t.sla_state == "running"
        assert t.resolve_due_at == utc(2026, 11, 25, 15)  # Wednesday 16:00 Paris
    assert ticket.own_due_at == utc(2026, 11, 24, 10)  # Tuesday 11:00 Paris
    # Owned before the pause: the own target is settled, its due time stays.
    assert owned.own_due_at == utc(2026, 11, 23, 11)
    # Resuming again changes nothing.
    await sla.resume(session, ticket, utc(2026, 11, 24, 12))
    assert ticket.resolve_due_at == utc(2026, 11, 25, 15)
    # A recompute lands on the same due times: the paused time is kept out.
    await sla.start(session, ticket, utc(2026, 11, 24, 12))
    assert ticket.own_due_at == utc(2026, 11, 24, 10)
    assert ticket.resolve_due_at == utc(2026, 11, 25, 15)


async def test_warning_at_75_percent_then_breach(session: AsyncSession) -> None:
    priority = next(_priorities)
    office = await _office(session)
    await _policy(
        session,
        priority,
        calendar_id=office.id,
        own_within_s=4 * H,
        resolve_within_s=8 * H,
        breach_actions=["notify", "escalate"],
    )
    ticket = await _ticket(session, priority, owned_at=utc(2026, 11, 23, 8))
    await sla.start(session, ticket, MONDAY_8_PARIS)
    resolve_due = utc(2026, 11, 23, 15)  # Monday 16:00 Paris
    assert ticket.resolve_due_at == resolve_due
    # 5h59 of 8h elapsed: not yet.
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 12, 59)) == []
    # 6h of 8h: 75%. The own target is settled (owned), so only resolve warns.
    warned_at = utc(2026, 11, 23, 13)
    assert await sla.evaluate(session, ticket, warned_at) == [
        SlaTransition("warning", "resolve", resolve_due, [])
    ]
    assert (ticket.sla_warned_at, ticket.sla_state) == (warned_at, "warning")
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 14)) == []
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 14, 59)) == []
    assert await sla.evaluate(session, ticket, resolve_due) == [
        SlaTransition("breach", "resolve", resolve_due, ["notify", "escalate"])
    ]
    assert (ticket.sla_breached_at, ticket.sla_state) == (resolve_due, "breached")
    assert ticket.sla_warned_at == warned_at
    assert await sla.evaluate(session, ticket, utc(2026, 11, 24, 9)) == []
    sla.met(ticket, utc(2026, 11, 24, 10))
    assert ticket.sla_state == "breached"


async def test_an_own_breach_leaves_the_resolve_target_its_turn(session: AsyncSession) -> None:
    priority = next(_priorities)
    office = await _office(session)
    await _policy(
        session, priority, calendar_id=office.id, own_within_s=1 * H, resolve_within_s=8 * H
    )
    ticket = await _ticket(session, priority)
    await sla.start(session, ticket, MONDAY_8_PARIS)
    own_due, resolve_due = utc(2026, 11, 23, 8), utc(2026, 11, 23, 15)
    # Monday 09:00 Paris has passed with nobody on it: the own target breaches (no warning first).
    assert await sla.evaluate(session, ticket, own_due) == [
        SlaTransition("breach", "own", own_due, ["notify"])
    ]
    assert ticket.sla_state == "breached" and ticket.sla_warned_at is None
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 8, 30)) == []
    ticket.owned_at = utc(2026, 11, 23, 9)
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 13)) == [
        SlaTransition("warning", "resolve", resolve_due, [])
    ]
    assert ticket.sla_state == "breached"  # a breach stays a breach
    assert await sla.evaluate(session, ticket, resolve_due) == [
        SlaTransition("breach", "resolve", resolve_due, ["notify"])
    ]
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 16)) == []


async def test_no_transition_while_paused(session: AsyncSession) -> None:
    priority = next(_priorities)
    await _policy(session, priority, own_within_s=1 * H, resolve_within_s=2 * H)
    ticket = await _ticket(session, priority)
    await sla.start(session, ticket, MONDAY_8_PARIS)
    sla.pause(ticket, utc(2026, 11, 23, 7, 30))
    assert await sla.evaluate(session, ticket, utc(2026, 11, 30, 7)) == []
    assert ticket.sla_warned_at is None and ticket.sla_breached_at is None
    assert ticket.sla_state == "paused"
    # Back after 30 minutes: the own target (due 08:00 UTC) moved to 08:30.
    await sla.resume(session, ticket, utc(2026, 11, 23, 8))
    assert ticket.own_due_at == utc(2026, 11, 23, 8, 30)
    # 59 minutes of clock at 08:29: past 75% of the own target, not of the resolve one.
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 8, 29)) == [
        SlaTransition("warning", "own", utc(2026, 11, 23, 8, 30), [])
    ]


async def test_a_priority_change_recomputes_from_creation_keeping_paused_time_out(
    session: AsyncSession,
) -> None:
    low, high = next(_priorities), next(_priorities)
    office = await _office(session)
    await _policy(session, low, calendar_id=office.id, own_within_s=4 * H, resolve_within_s=8 * H)
    urgent = await _policy(
        session, high, calendar_id=office.id, own_within_s=1 * H, resolve_within_s=4 * H
    )
    ticket = await _ticket(session, low)
    await sla.start(session, ticket, MONDAY_8_PARIS)
    sla.pause(ticket, utc(2026, 11, 23, 8))  # Monday 09:00 to 11:00 Paris: 2 hours
    await sla.resume(session, ticket, utc(2026, 11, 23, 10))
    assert ticket.resolve_due_at == utc(2026, 11, 24, 8)  # Tuesday 09:00 Paris
    ticket.priority = high
    await sla.start(session, ticket, utc(2026, 11, 23, 11))
    assert ticket.sla_policy_id == urgent.id
    assert ticket.own_due_at == utc(2026, 11, 23, 10)  # 08:00 + 1h + 2h paused, Paris
    assert ticket.resolve_due_at == utc(2026, 11, 23, 13)  # 08:00 + 4h + 2h paused, Paris
    assert ticket.sla_state == "running"
    # At 13:00 Paris the new own due time has passed, and 3 of the 4 resolve hours.
    assert await sla.evaluate(session, ticket, utc(2026, 11, 23, 12)) == [
        SlaTransition("breach", "own", utc(2026, 11, 23, 10), ["notify"]),
        SlaTransition("warning", "resolve", utc(2026, 11, 23, 13), []),
    ]
    # A recompute while paused keeps the clock paused.
    sla.pause(ticket, utc(2026, 11, 23, 12))
    await sla.start(session, ticket, utc(2026, 11, 23, 12))
    assert ticket.sla_state == "paused"


async def test_the_site_time_zone_applies_when_the_policy_says_so(session: AsyncSession) -> None:
    priority, fixed_priority = next(_priorities), next(_priorities)
    # One calendar for all sites, 09:00-17:00, written in UTC.
    office = await _office(session, timezone="UTC", opens="09:00")
    new_york = await _add(session, Site(name=_name("nyc"), timezone="America/New_York"))
    await _policy(session, priority, calendar_id=office.id, own_within_s=1 * H)
    await _policy(
        session, fixed_priority, calendar_id=office.id, own_within_s=1 * H, use_site_timezone=False
    )
    created = utc(2026, 11, 23, 13)  # 08:00 in New York (UTC-5)
    local = await _ticket(session, priority, site_id=new_york.id, created_at=created)
    no_site = await _ticket(session, priority, created_at=created)
    fixed = await _ticket(session, fixed_priority, site_id=new_york.id, created_at=created)
    for t in (local, no_site, fixed):
        await sla.start(session, t, created)
    assert local.own_due_at == utc(2026, 11, 23, 15)  # 10:00 New York
    assert no_site.own_due_at == utc(2026, 11, 23, 14)
    assert fixed.own_due_at == utc(2026, 11, 23, 14)


async def test_met_on_resolve(session: AsyncSession) -> None:
    priority = next(_priorities)
    await _policy(session, priority, own_within_s=1 * H, resolve_within_s=2 * H)
    on_time = await _ticket(session, priority)
    late = await _ticket(session, priority)
    late_while_paused = await _ticket(session, priority)
    for t in (on_time, late, late_while_paused):
        await sla.start(session, t, MONDAY_8_PARIS)
    sla.met(on_time, utc(2026, 11, 23, 8, 59))
    assert (on_time.sla_state, on_time.sla_breached_at) == ("met", None)
    # No sweep saw it, but it was resolved after the due time: breached.
    sla.met(late, utc(2026, 11, 23, 9, 1))
    assert (late.sla_state, late.sla_breached_at) == ("breached", utc(2026, 11, 23, 9, 1))
    sla.pause(late_while_paused, utc(2026, 11, 23, 8, 30))
    sla.met(late_while_paused, utc(2026, 11, 23, 12))
    assert late_while_paused.sla_state == "met"


async def test_due_query_finds_the_clocks_to_evaluate(session: AsyncSession) -> None:
    priority = next(_priorities)
    await _policy(session, priority, own_within_s=1 * H, resolve_within_s=8 * H)
    now = utc(2026, 11, 23, 7, 30)
    tickets = {
        name: await _ticket(session, priority, **fields)
        for name, fields in {
            "own_soon": {},
            "owned_resolve_later": {"owned_at": now},
            "paused": {},
            "resolved": {"state": "resolved"},
            "no_policy": {"urgency": 1},
            "breached_before_owned": {"owned_at": utc(2026, 11, 23, 8, 30)},
            "breached_after_owned": {"owned_at": now},
        }.items()
    }
    tickets["no_policy"].priority = next(_priorities)
    for ticket in tickets.values():
        await sla.start(session, ticket, MONDAY_8_PARIS)
    sla.pause(tickets["paused"], now)
    tickets["breached_before_owned"].sla_state = "breached"
    tickets["breached_before_owned"].sla_breached_at = utc(2026, 11, 23, 8)
    tickets["breached_after_owned"].sla_state = "breached"
    tickets["breached_after_owned"].sla_breached_at = utc(2026, 11, 23, 15)
    await session.flush()
    ids = {ticket.id: name for name, ticket in tickets.items()}

    async def found(horizon: dt.timedelta) -> set[str]:
        rows = await session.scalars(sla.due_query(now, horizon))
        return {ids[i] for i in rows if i in ids}

    assert await found(dt.timedelta(hours=1)) == {"own_soon"}
    assert await found(dt.timedelta(hours=8)) == {
        "own_soon",
        "owned_resolve_later",
        "breached_before_owned",
    }


async def test_naive_now_is_refused(session: AsyncSession) -> None:
    ticket = await _ticket(session, next(_priorities))
    with pytest.raises(ValueError, match="naive"):
        await sla.start(session, ticket, dt.datetime(2026, 11, 23, 8))
