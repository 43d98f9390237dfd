"""Reports: the desk's headline figures over a window of days (what the dashboard shows)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.desk import reports

router = APIRouter(prefix="/reports", tags=["reports"])
Reader = Annotated[Actor, Depends(allowed(Permission.TICKETS_READ))]


class DayPublic(BaseModel):
    day: dt.date = Field(description="a UTC calendar day")
    created: int = Field(description="tickets created that day")
    resolved: int = Field(description="tickets resolved that day (latest resolution)")
    open_at_end: int = Field(description="tickets open at the end of that day")


class BacklogPublic(BaseModel):
    open_total: int = Field(description="open tickets now (new, assigned, in_progress, pending)")
    by_priority: dict[int, int] = Field(description="open tickets per priority, 1 to 5")
    by_state: dict[str, int] = Field(description="open tickets per open state")
    per_day: list[DayPublic] = Field(description="each day of the window, oldest first")


class ResolutionPublic(BaseModel):
    resolved: int = Field(description="tickets whose resolved_at falls in the window")
    sla_measured: int = Field(description="of those, the ones with a resolve target (SLA policy)")
    sla_met: int = Field(description="resolved before their resolve due time")
    sla_breached: int = Field(description="resolved at or after their resolve due time")
    sla_compliance_percent: float | None = Field(
        description="sla_met / sla_measured x 100, one decimal; null without measured tickets"
    )
    mttr_mean_s: int | None = Field(
        description="mean wall-clock seconds from creation to resolution (pauses included)"
    )
    mttr_median_s: int | None = Field(description="median of the same durations")
    first_contact: int = Field(
        description="resolved tickets never escalated (escalation_level 0 and no escalation "
        "in the timeline) and never passed to another team (assignments name one team at most)"
    )
    fcr_percent: float | None = Field(
        description="first-contact resolution: first_contact / resolved x 100, one decimal"
    )


class FailingCheckPublic(BaseModel):
    check_id: int
    check_name: str
    endpoint_id: str
    hostname: str
    since: dt.datetime = Field(description="when the check entered its failing state")


class ChecksFailingPublic(BaseModel):
    count: int = Field(description="enabled checks failing now, per endpoint")
    items: list[FailingCheckPublic] = Field(
        description=f"the longest-failing first, at most {reports.FAILING_LISTED}"
    )


class AgentsPublic(BaseModel):
    total: int = Field(description="enrolled agent endpoints, revoked ones left out")
    offline: int = Field(
        description="of those, not connected or not heard from within the heartbeat window"
    )


class DeskReportPublic(BaseModel):
    days: int
    since: dt.datetime = Field(description="the window's start: 00:00 UTC, days - 1 days ago")
    until: dt.datetime = Field(description="the window's end: now")
    backlog: BacklogPublic
    resolution: ResolutionPublic
    checks_failing: ChecksFailingPublic | None = Field(
        description="null when the caller may not read checks"
    )
    agents: AgentsPublic | None = Field(description="null when the caller may not read endpoints")

    @classmethod
    def of(cls, report: reports.DeskReport) -> DeskReportPublic:
        backlog = report.backlog
        checks = report.checks_failing
        return cls(
            days=report.days,
            since=report.since,
            until=report.until,
            backlog=BacklogPublic(
                open_total=backlog.open_total,
                by_priority=backlog.by_priority,
                by_state=backlog.by_state,
                per_day=[DayPublic(**vars(day)) for day in backlog.per_day],
            ),
            resolution=ResolutionPublic(**vars(report.resolution)),
            checks_failing=(
                ChecksFailingPublic(
                    count=checks.count,
                    items=[FailingCheckPublic(**vars(item)) for item in checks.items],
                )
                if checks is not None
                else None
            ),
            agents=AgentsPublic(**vars(report.agents)) if report.agents is not None else None,
        )


@router.get("/desk")
async def desk(
    session: SessionDep,
    controller: ControllerDep,
    actor: Reader,
    days: Annotated[
        int, Query(ge=1, le=reports.MAX_DAYS, description="UTC days, today included")
    ] = 30,
) -> DeskReportPublic:
    """Backlog, SLA compliance, MTTR, first-contact resolution, failing checks and offline
    agents, within the caller's sites."""
    report = await reports.desk_report(
        session, actor, days=days, online_window=controller.online_window
    )
    return DeskReportPublic.of(report)
