"""The loop from outside: open incidents, silences and acknowledgements, maintenance
windows and the global pause switch."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.automation import holds, incidents

router = APIRouter(tags=["automation"])
Reader = Annotated[Actor, Depends(allowed(Permission.CHECKS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.CHECKS_WRITE))]
Admin = Annotated[Actor, Depends(allowed(Permission.DESK_CONFIG))]
Analyst = Annotated[Actor, Depends(allowed(Permission.TICKETS_WRITE))]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class WindowCreate(BaseModel):
    site_id: int | None = Field(default=None, description="a site, or")
    endpoint_id: str | None = Field(default=None, max_length=36, description="one endpoint")
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: Reason


class WindowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    site_id: int | None
    endpoint_id: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str
    created_at: dt.datetime


class PauseState(BaseModel):
    paused: bool
    reason: str = ""
    changed_by: str = ""
    changed_at: dt.datetime | None = None


class PauseRequest(BaseModel):
    paused: bool
    reason: Reason = ""


@router.get("/maintenance-windows")
async def list_windows(
    session: SessionDep, actor: Reader, include_ended: bool = False
) -> list[WindowPublic]:
    """Windows now open or still to come (with include_ended, the past ones too)."""
    found = await holds.list_windows(session, actor, current_only=not include_ended)
    return [WindowPublic.model_validate(w) for w in found]


@router.post("/maintenance-windows", status_code=201)
async def open_window(body: WindowCreate, session: SessionDep, actor: Writer) -> WindowPublic:
    window = await holds.open_window(session, actor, **body.model_dump())
    return WindowPublic.model_validate(window)


@router.delete("/maintenance-windows/{window_id}", status_code=204)
async def close_window(window_id: int, session: SessionDep, actor: Writer) -> Response:
    """End the window now; it stays in the history."""
    await holds.close_window(session, actor, window_id)
    return Response(status_code=204)


@router.get("/automation")
async def get_pause(session: SessionDep, actor: Reader) -> PauseState:
    switch = await holds.paused(session)
    if switch is None:
        return PauseState(paused=False)
    return PauseState(
        paused=True,
        reason=switch.reason,
        changed_by=switch.changed_by,
        changed_at=switch.changed_at,
    )


@router.put("/automation")
async def set_pause(body: PauseRequest, session: SessionDep, actor: Admin) -> PauseState:
    """Pause (or resume) every automatic ticket and fix; results are still recorded."""
    switch = await holds.set_paused(session, actor, body.paused, body.reason)
    return PauseState(
        paused=switch.on,
        reason=switch.reason,
        changed_by=switch.changed_by,
        changed_at=switch.changed_at,
    )


class IncidentPublic(BaseModel):
    check_id: int
    check_name: str
    check: str
    endpoint_id: str
    hostname: str
    status: str
    since: dt.datetime
    ticket_id: int | None
    playbook_run_id: str | None
    fixes_in_window: int
    escalated: bool
    silenced_until: dt.datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, incident: incidents.Incident) -> IncidentPublic:
        state, check = incident.state, incident.check
        return cls(
            check_id=check.id,
            check_name=check.name,
            check=check.check,
            endpoint_id=state.endpoint_id,
            hostname=incident.hostname,
            status=state.status,
            since=state.since,
            ticket_id=state.ticket_id,
            playbook_run_id=state.playbook_run_id,
            fixes_in_window=len(state.fixes),
            escalated=state.escalated,
            silenced_until=state.silenced_until,
            acknowledged_by=state.acknowledged_by,
        )


class SilenceRequest(BaseModel):
    until: dt.datetime
    reason: Reason


@router.get("/incidents")
async def list_incidents(session: SessionDep, actor: Reader) -> list[IncidentPublic]:
    """Checks not ok on endpoints you can reach, longest-standing first."""
    return [IncidentPublic.of(i) for i in await incidents.list_incidents(session, actor)]


@router.post("/incidents/{check_id}/{endpoint_id}/silence", status_code=204)
async def silence(
    check_id: int, endpoint_id: str, body: SilenceRequest, session: SessionDep, actor: Writer
) -> Response:
    """Hold the loop for this check on this endpoint until the given time."""
    await incidents.silence(session, actor, check_id, endpoint_id, body.until, body.reason)
    return Response(status_code=204)


@router.post("/incidents/{check_id}/{endpoint_id}/acknowledge", status_code=204)
async def acknowledge(
    check_id: int, endpoint_id: str, session: SessionDep, actor: Analyst
) -> Response:
    """Say you are on it; it lasts until the check recovers."""
    await incidents.acknowledge(session, actor, check_id, endpoint_id)
    return Response(status_code=204)
