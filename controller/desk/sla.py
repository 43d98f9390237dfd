"""The SLA clock on tickets: which policy applies, when targets fall due, pauses, warnings
and breaches.

A ticket has two targets: "own" (an analyst has it in hand) and "resolve". Both count
business time from created_at under the policy's calendar. Time spent paused (waiting on
the requester or a vendor) is kept out: resume() pushes the due times out by the paused
business time, and adds it to ticket.sla_paused_s so that a recomputed clock (start()
after a priority change) keeps it out too.

Warnings and breaches are recorded once on the ticket (sla_warned_at, sla_breached_at).
Before the ticket is owned, one warning (one breach) covers both targets. Once it is owned,
only the resolve target runs, and it gets its own turn: a marker from before ownership
counts for it only if the resolve target had already reached that point then. So a caller
waiting too long for an owner does not silence the later warning about resolution.

This module decides and records; acting on a transition (notify, escalate, raise the
priority) is the ticket service's job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.desk.calendar import ROUND_THE_CLOCK, BusinessHours
from controller.storage.models import BusinessCalendar, Category, Site, SlaPolicy, Ticket

# The ticket states in which the clock no longer matters (lifecycle.OPEN_STATES' complement).
FINISHED_STATES = ("resolved", "closed")
# sla_state values in which a ticket still has a target ahead of it.
CLOCK_RUNNING = ("running", "warning")

Target = Literal["own", "resolve"]


@dataclass(frozen=True)
class SlaTransition:
    kind: Literal["warning", "breach"]
    target: Target
    due_at: dt.datetime
    # The policy's breach_actions for a breach; nothing for a warning.
    actions: list[str] = field(default_factory=list)


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: the SLA clock works in UTC")
    return value.astimezone(dt.UTC)


# -- which policy, which hours ----------------------------------------------------------


async def policy_for(
    session: AsyncSession, *, priority: int, site_id: int | None, category_id: int | None
) -> SlaPolicy | None:
    """The most specific policy for this priority: site and category, then category only,
    then site only, then neither. A policy's category matches its whole subtree; among
    policies of the same rank the deepest category wins, then the oldest policy."""
    ancestors: list[str] = []
    if category_id is not None:
        path = await session.scalar(select(Category.path).where(Category.id == category_id))
        if path is not None:
            parts = path.split("/")
            ancestors = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
    site_matches: ColumnElement[bool] = SlaPolicy.site_id.is_(None)
    if site_id is not None:
        site_matches = or_(site_matches, SlaPolicy.site_id == site_id)
    category_matches: ColumnElement[bool] = SlaPolicy.category_id.is_(None)
    if ancestors:
        category_matches = or_(category_matches, Category.path.in_(ancestors))
    rows = await session.execute(
        select(SlaPolicy, Category.path)
        .outerjoin(Category, SlaPolicy.category_id == Category.id)
        .where(SlaPolicy.priority == priority, site_matches, category_matches)
    )

    def rank(row: tuple[SlaPolicy, str | None]) -> tuple[int, int, int]:
        policy, category_path = row
        if policy.category_id is not None:
            tier = 0 if policy.site_id is not None else 1
        else:
            tier = 2 if policy.site_id is not None else 3
        depth = category_path.count("/") if category_path is not None else 0
        return tier, -depth, policy.id

    candidates = [(policy, path) for policy, path in rows]
    return min(candidates, key=rank)[0] if candidates else None


async def hours_for(session: AsyncSession, policy: SlaPolicy, site_id: int | None) -> BusinessHours:
    """The policy's calendar (round the clock without one), in the site's time zone when
    the policy says so and the ticket has a site, else in the calendar's own."""
    if policy.calendar_id is None:
        return ROUND_THE_CLOCK
    calendar = await session.get(BusinessCalendar, policy.calendar_id)
    if calendar is None:
        return ROUND_THE_CLOCK
    timezone = None
    if policy.use_site_timezone and site_id is not None:
        timezone = await session.scalar(select(Site.timezone).where(Site.id == site_id))
    return BusinessHours.from_row(calendar, timezone)


async def _clock(session: AsyncSession, ticket: Ticket) -> tuple[SlaPolicy, BusinessHours] | None:
    if ticket.sla_policy_id is None:
        return None
    policy = await session.get(SlaPolicy, ticket.sla_policy_id)
    if policy is None:
        return None
    return policy, await hours_for(session, policy, ticket.site_id)


def _resting_state(ticket: Ticket) -> str:
    """The state a running clock shows: a breach stays a breach, a warning stays one."""
    if ticket.sla_breached_at is not None:
        return "breached"
    return "warning" if ticket.sla_warned_at is not None else "running"


# -- starting, pausing, resolving -------------------------------------------------------


async def start(session: AsyncSession, ticket: Ticket, now: dt.datetime) -> None:
    """Pick the policy and set the due times; again after priority, site or category change.

    Due times always count from created_at under the current policy, less the business
    time of finished pauses (sla_paused_s, measured under the calendar in force while
    paused: exact unless the new policy uses another calendar). A pause still running is
    added by resume(). Once owned, the own due time is history and stays as it was.
    """
    now = _aware(now)
    if ticket.created_at is None:  # not flushed yet: the column default has not run
        ticket.created_at = now
    policy = await policy_for(
        session, priority=ticket.priority, site_id=ticket.site_id, category_id=ticket.category_id
    )
    if policy is None:
        ticket.sla_policy_id = None
        ticket.own_due_at = ticket.resolve_due_at = None
        ticket.sla_state = "none"
        return
    hours = await hours_for(session, policy, ticket.site_id)
    paused = ticket.sla_paused_s or 0.0
    ticket.sla_paused_s = paused
    ticket.sla_policy_id = policy.id
    if ticket.owned_at is None or ticket.own_due_at is None:
        ticket.own_due_at = hours.add(ticket.created_at, policy.own_within_s + paused)
    ticket.resolve_due_at = hours.add(ticket.created_at, policy.resolve_within_s + paused)
    ticket.sla_state = "paused" if ticket.sla_paused_at is not None else _resting_state(ticket)


def pause(ticket: Ticket, now: dt.datetime) -> None:
    """Stop the clock (a no-op when it is already stopped)."""
    if ticket.sla_paused_at is not None:
        return
    ticket.sla_paused_at = _aware(now)
    # Without a policy (or once met) there is no clock to show as paused; the instant is
    # still kept so that resume() can account for it if a policy applies meanwhile.
    if ticket.sla_state not in ("none", "met"):
        ticket.sla_state = "paused"


async def resume(session: AsyncSession, ticket: Ticket, now: dt.datetime) -> None:
    """Restart the clock: the due times move out by the business time spent paused."""
    now = _aware(now)
    paused_at = ticket.sla_paused_at
    if paused_at is None:
        return
    ticket.sla_paused_at = None
    clock = await _clock(session, ticket)
    if clock is not None:
        _, hours = clock
        paused = hours.between(paused_at, now)
        ticket.sla_paused_s = (ticket.sla_paused_s or 0.0) + paused
        # add(add(t, x), y) == add(t, x + y): the same due times start() would compute.
        if ticket.owned_at is None and ticket.own_due_at is not None:
            ticket.own_due_at = hours.add(ticket.own_due_at, paused)
        if ticket.resolve_due_at is not None:
            ticket.resolve_due_at = hours.add(ticket.resolve_due_at, paused)
    if ticket.sla_state == "paused":
        ticket.sla_state = _resting_state(ticket)


def met(ticket: Ticket, now: dt.datetime) -> None:
    """The ticket is resolved: its SLA is met, unless it was breached (a breach stays).

    Resolving past the resolve due time is a breach even if no sweep saw it in time; it
    is recorded here, with no transition to act on (the ticket is done).
    """
    now = _aware(now)
    if ticket.sla_state == "none":
        return
    # While paused the due time has not yet moved out for this pause: compare the
    # instant the clock stopped.
    clock_stopped_at = ticket.sla_paused_at or now
    if (
        ticket.sla_breached_at is None
        and ticket.resolve_due_at is not None
        and clock_stopped_at >= ticket.resolve_due_at
    ):
        ticket.sla_breached_at = now
    ticket.sla_state = "breached" if ticket.sla_breached_at is not None else "met"


# -- warnings and breaches --------------------------------------------------------------


def _already(
    marker: dt.datetime | None, ticket: Ticket, target: Target, point: dt.datetime
) -> bool:
    """Whether the warning (breach) marker already covers this target; see the docstring
    of the module. point is when the target reached the threshold (or fell due)."""
    if marker is None:
        return False
    if target == "own" or ticket.owned_at is None:
        return True
    return marker >= ticket.owned_at or marker >= point


async def evaluate(session: AsyncSession, ticket: Ticket, now: dt.datetime) -> list[SlaTransition]:
    """Record the warnings and breaches reached by now and return them (oldest due first).

    A warning fires when the business time elapsed since creation, less paused time,
    reaches warn_at_percent of a target that is not yet due; a breach when now is at or
    past a due time. Paused, resolved and policy-less tickets never transition.
    """
    now = _aware(now)
    if (
        ticket.sla_paused_at is not None
        or ticket.resolved_at is not None
        or ticket.sla_state in ("none", "met", "paused")
    ):
        return []
    clock = await _clock(session, ticket)
    if clock is None:
        return []
    policy, hours = clock
    paused = ticket.sla_paused_s or 0.0
    elapsed = hours.between(ticket.created_at, now) - paused
    share = policy.warn_at_percent / 100
    targets: list[tuple[Target, int, dt.datetime | None]] = [
        ("resolve", policy.resolve_within_s, ticket.resolve_due_at)
    ]
    if ticket.owned_at is None:
        targets.insert(0, ("own", policy.own_within_s, ticket.own_due_at))
    transitions: list[SlaTransition] = []
    for target, within, due in targets:
        if due is None:
            continue
        if now >= due:
            if not _already(ticket.sla_breached_at, ticket, target, due):
                transitions.append(
                    SlaTransition("breach", target, due, list(policy.breach_actions))
                )
        elif elapsed >= within * share:
            # The instant the threshold was reached matters only for the resolve target
            # of an owned ticket with an older marker; compute it only then.
            marker = ticket.sla_warned_at
            point = now
            if marker is not None and target == "resolve" and ticket.owned_at is not None:
                point = hours.add(ticket.created_at, within * share + paused)
            if not _already(marker, ticket, target, point):
                transitions.append(SlaTransition("warning", target, due))
    if any(t.kind == "warning" for t in transitions):
        ticket.sla_warned_at = now
    if any(t.kind == "breach" for t in transitions):
        ticket.sla_breached_at = now
    if transitions:
        ticket.sla_state = _resting_state(ticket)
    transitions.sort(key=lambda t: t.due_at)
    return transitions


def due_query(now: dt.datetime, horizon: dt.timedelta) -> Select[int]:
    """Ids of open, unpaused tickets with a running clock whose due time is before
    now + horizon: the ones a sweep should evaluate().

    Warning points depend on the calendar, so no index can find them; instead a ticket
    becomes a candidate when a due time comes within the horizon. A warning therefore
    fires at the later of its point and due - horizon: pick a horizon at least as long,
    in wall time, as the (100 - warn_at_percent)% lead of the longest target (e.g. a day
    for 8-hour targets at 75%); a longer horizon costs more evaluations per sweep. The
    ticket state filter with resolve_due_at can use ix_tickets_resolve_due.

    A breached ticket is still a candidate when its breach came before an owner and its
    resolve target has not fallen due since: that target still has its turn.
    """
    edge = _aware(now) + horizon
    own_due_soon = and_(Ticket.owned_at.is_(None), Ticket.own_due_at <= edge)
    resolve_due_soon = Ticket.resolve_due_at <= edge
    return (
        select(Ticket.id)
        .where(
            Ticket.state.not_in(FINISHED_STATES),
            Ticket.sla_paused_at.is_(None),
            or_(
                and_(Ticket.sla_state.in_(CLOCK_RUNNING), or_(own_due_soon, resolve_due_soon)),
                and_(
                    Ticket.sla_state == "breached",
                    Ticket.owned_at.is_not(None),
                    Ticket.sla_breached_at < Ticket.owned_at,
                    Ticket.sla_breached_at < Ticket.resolve_due_at,
                    resolve_due_soon,
                ),
            ),
        )
        .order_by(Ticket.id)
    )
