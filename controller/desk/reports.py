"""The desk's headline figures over a window of days, as the dashboard shows them.

The window is `days` UTC calendar days ending today: from 00:00 UTC `days - 1` days ago
until now, so the per-day series and the totals count the same tickets.

- Backlog: the open tickets now (states new, assigned, in_progress, pending), by priority
  and by state; and per day of the window the tickets created, the tickets resolved, and
  the tickets open at the end of that day.
- Resolved: tickets whose resolved_at falls in the window (closed ones included; a ticket
  reopened and resolved again counts once, at its latest resolution).
- SLA compliance: of those with a resolve target (an SLA policy applied), the share
  resolved before their resolve due time as it stood at resolution (pauses waiting on the
  requester or a vendor already move the due time out). The time-to-own target is not part
  of it. Breached: resolved at or after the due time.
- MTTR: mean and median wall-clock time from created_at to resolved_at (pauses included).
- FCR (first-contact resolution): the share of resolved tickets that were never escalated
  (escalation_level 0 and no escalation in the timeline) and never passed to another team
  (the timeline's assignments name at most one team).
- Checks failing: enabled checks whose current state on an endpoint is "fail".
- Agents offline: enrolled, unrevoked agent endpoints not connected or not heard from
  within the heartbeat window (as the endpoint list's `online` says), out of all of them.

Everything is counted in the database, a few aggregate queries per report, within the
actor's reach: tickets as the queues show them, endpoints of the actor's sites.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    case,
    distinct,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk.lifecycle import OPEN_STATES, STATES
from controller.desk.queues import is_open_ticket
from controller.desk.visibility import visible
from controller.errors import InvalidInput
from controller.storage.models import Check, CheckState, Endpoint, Ticket, TicketEvent
from controller.storage.types import utcnow

MAX_DAYS = 366
PRIORITIES = (1, 2, 3, 4, 5)
# The failing checks listed by name; the count covers them all.
FAILING_LISTED = 100


# -- portable SQL: seconds between two instants, the UTC day of one -----------------------


class seconds_between(FunctionElement[float]):
    """end - start in seconds, as a float, on SQLite and PostgreSQL."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    # EXTRACT gives numeric (Decimal); the figures are floats.
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


class utc_day(FunctionElement[str]):
    """The UTC calendar day of an instant, as YYYY-MM-DD text."""

    type = String()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(arg, **kw) for arg in element.clauses)
    # In UTC whatever the session's TimeZone; the format is literal SQL, so the grouped
    # expression and the selected one are the same text.
    return f"to_char(timezone('UTC', {moment}), 'YYYY-MM-DD')"


@compiles(utc_day, "sqlite")
def _day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"date({moment})"  # stored as UTC text


# -- the figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: dt.date
    created: int
    resolved: int
    open_at_end: int


@dataclass(frozen=True)
class Backlog:
    open_total: int
    by_priority: dict[int, int]
    by_state: dict[str, int]
    per_day: list[Day]


@dataclass(frozen=True)
class Resolution:
    resolved: int
    sla_measured: int
    sla_met: int
    sla_breached: int
    sla_compliance_percent: float | None
    mttr_mean_s: int | None
    mttr_median_s: int | None
    first_contact: int
    fcr_percent: float | None


@dataclass(frozen=True)
class FailingCheck:
    check_id: int
    check_name: str
    endpoint_id: str
    hostname: str
    since: dt.datetime


@dataclass(frozen=True)
class FailingChecks:
    count: int
    items: list[FailingCheck]


@dataclass(frozen=True)
class Agents:
    total: int
    offline: int


@dataclass(frozen=True)
class DeskReport:
    days: int
    since: dt.datetime
    until: dt.datetime
    backlog: Backlog
    resolution: Resolution
    # None when the actor may not read checks (endpoints).
    checks_failing: FailingChecks | None
    agents: Agents | None


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _tickets(actor: Actor) -> Select[Ticket]:
    """The tickets the actor reaches; callers swap in the columns they aggregate
    (with_only_columns(..., maintain_column_froms=True), so FROM stays tickets)."""
    return visible(select(Ticket), actor)


def _total(expression: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((expression, 1), else_=0)), 0)


async def _backlog(
    session: AsyncSession, actor: Actor, since: dt.datetime, now: dt.datetime, days: int
) -> Backlog:
    by_priority = dict.fromkeys(PRIORITIES, 0)
    by_state = {state: 0 for state in STATES if state in OPEN_STATES}
    rows = await session.execute(
        _tickets(actor)
        .with_only_columns(Ticket.state, Ticket.priority, func.count(), maintain_column_froms=True)
        .where(is_open_ticket())
        .group_by(Ticket.state, Ticket.priority)
    )
    for state, priority, count in rows:
        by_priority[priority] = by_priority.get(priority, 0) + count
        by_state[state] += count
    counts: dict[str, dict[str, int]] = {}
    for name, column in (("created", Ticket.created_at), ("resolved", Ticket.resolved_at)):
        day = utc_day(column)
        found = await session.execute(
            _tickets(actor)
            .with_only_columns(day, func.count(), maintain_column_froms=True)
            .where(column >= since, column <= now)
            .group_by(day)
        )
        counts[name] = {str(d): n for d, n in found}
    open_now = sum(by_state.values())
    # Open at the end of a day: open now, less what was created since, plus what was
    # resolved since (a ticket is open exactly while it has no resolved_at).
    per_day: list[Day] = []
    open_at_end = open_now
    for offset in range(days - 1, -1, -1):
        day_date = since.date() + dt.timedelta(days=offset)
        created = counts["created"].get(day_date.isoformat(), 0)
        resolved = counts["resolved"].get(day_date.isoformat(), 0)
        per_day.append(Day(day_date, created, resolved, open_at_end))
        open_at_end -= created - resolved
    per_day.reverse()
    return Backlog(open_now, by_priority, by_state, per_day)


def _first_contact() -> ColumnElement[bool]:
    """Never escalated, and assigned to one team at most over the ticket's life."""
    escalated = exists().where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "escalation")
    teams = (
        select(func.count(distinct(TicketEvent.data["team_id"].as_integer())))
        .where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "assignment")
        .scalar_subquery()
    )
    return and_(Ticket.escalation_level == 0, ~escalated, teams <= 1)


async def _resolution(
    session: AsyncSession, actor: Actor, since: dt.datetime, now: dt.datetime
) -> Resolution:
    in_window = and_(Ticket.resolved_at >= since, Ticket.resolved_at <= now)
    duration = seconds_between(Ticket.created_at, Ticket.resolved_at)
    has_target = Ticket.resolve_due_at.is_not(None)
    row = (
        await session.execute(
            _tickets(actor)
            .with_only_columns(
                func.count(),
                _total(has_target),
                _total(and_(has_target, Ticket.resolved_at < Ticket.resolve_due_at)),
                func.avg(duration),
                _total(_first_contact()),
                maintain_column_froms=True,
            )
            .where(in_window)
        )
    ).one()
    resolved, measured, met, mean, first_contact = row
    median = None
    if resolved:
        # The middle one (odd count) or the middle two (even), found by the database.
        middle = await session.scalars(
            _tickets(actor)
            .with_only_columns(duration, maintain_column_froms=True)
            .where(in_window)
            .order_by(duration)
            .offset((resolved - 1) // 2)
            .limit(2 - resolved % 2)
        )
        values = list(middle)
        median = round(sum(values) / len(values))
    return Resolution(
        resolved=resolved,
        sla_measured=measured,
        sla_met=met,
        sla_breached=measured - met,
        sla_compliance_percent=_percent(met, measured),
        mttr_mean_s=round(mean) if mean is not None else None,
        mttr_median_s=median,
        first_contact=first_contact,
        fcr_percent=_percent(first_contact, resolved),
    )


async def _checks_failing(session: AsyncSession, actor: Actor) -> FailingChecks:
    failing = (
        select(CheckState.check_id)
        .select_from(CheckState)
        .join(Check, Check.id == CheckState.check_id)
        .join(Endpoint, Endpoint.id == CheckState.endpoint_id)
        .where(CheckState.status == "fail", Check.enabled.is_(True))
    )
    if actor.site_ids is not None:
        failing = failing.where(Endpoint.site_id.in_(actor.site_ids))
    count = await session.scalar(failing.with_only_columns(func.count())) or 0
    rows = await session.execute(
        failing.with_only_columns(
            CheckState.check_id,
            Check.name,
            CheckState.endpoint_id,
            Endpoint.hostname,
            CheckState.since,
        )
        .order_by(CheckState.since, Check.name, Endpoint.hostname)
        .limit(FAILING_LISTED)
    )
    return FailingChecks(count, [FailingCheck(*row) for row in rows])


async def _agents(
    session: AsyncSession, actor: Actor, now: dt.datetime, window: dt.timedelta
) -> Agents:
    # The same test as fleet.endpoints.is_online, for agents.
    online = and_(
        Endpoint.connected.is_(True),
        Endpoint.last_seen.is_not(None),
        Endpoint.last_seen >= now - window,
    )
    query = select(func.count(), _total(online)).where(
        Endpoint.transport == "agent", Endpoint.revoked_at.is_(None)
    )
    if actor.site_ids is not None:
        query = query.where(Endpoint.site_id.in_(actor.site_ids))
    total, up = (await session.execute(query)).one()
    return Agents(total=total, offline=total - up)


async def desk_report(
    session: AsyncSession,
    actor: Actor,
    *,
    days: int,
    online_window: dt.timedelta,
    now: dt.datetime | None = None,
) -> DeskReport:
    actor.require(Permission.TICKETS_READ)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"from 1 to {MAX_DAYS}")
    now = (now or utcnow()).astimezone(dt.UTC)
    since = dt.datetime.combine(now.date() - dt.timedelta(days=days - 1), dt.time(), dt.UTC)
    return DeskReport(
        days=days,
        since=since,
        until=now,
        backlog=await _backlog(session, actor, since, now, days),
        resolution=await _resolution(session, actor, since, now),
        checks_failing=(
            await _checks_failing(session, actor) if actor.can(Permission.CHECKS_READ) else None
        ),
        agents=(
            await _agents(session, actor, now, online_window)
            if actor.can(Permission.ENDPOINTS_READ)
            else None
        ),
    )
