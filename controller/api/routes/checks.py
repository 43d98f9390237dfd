"""Health checks: definitions, their results, and where each stands on an endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.api.fields import Name
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.checks import definitions, results, status
from controller.checks.definitions import PlaybookKnown
from controller.checks.targets import Where, version
from controller.container import Controller
from controller.playbooks import schema as playbook_schema
from controller.storage.models import Check, CheckResult, CheckState

router = APIRouter(tags=["checks"])
Reader = Annotated[Actor, Depends(allowed(Permission.CHECKS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.CHECKS_WRITE))]
Kind = Annotated[str, Field(max_length=50, description="service.running, disk.free, ...")]
Cron = Annotated[str, Field(max_length=100, description="5 fields, UTC")]
Playbook = Annotated[str, Field(max_length=100, description="a playbook of the library")]


class CheckCreate(BaseModel):
    name: Name
    check: Kind
    params: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, Any] = Field(default_factory=dict)
    endpoint_ids: list[str] = Field(default_factory=list, max_length=1000)
    site_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=32)
    interval_s: int | None = None
    cron: Cron | None = None
    playbook: Playbook | None = None
    playbook_inputs: dict[str, Any] = Field(default_factory=dict)
    max_fixes: Annotated[int, Field(ge=1, le=100)] = 3
    fix_window_s: Annotated[int, Field(ge=60, le=7 * 86400)] = 3600
    cooldown_s: Annotated[int, Field(ge=0, le=86400)] = 300
    team_id: int | None = Field(default=None, description="who gets the loop's tickets")
    enabled: bool = True


class CheckUpdate(PatchModel):
    nullable = frozenset({"site_id", "interval_s", "cron", "playbook", "team_id"})

    name: Name | None = None
    check: Kind | None = None
    params: dict[str, Any] | None = None
    thresholds: dict[str, Any] | None = None
    endpoint_ids: list[str] | None = Field(default=None, max_length=1000)
    site_id: int | None = None
    tags: list[str] | None = Field(default=None, max_length=32)
    interval_s: int | None = None
    cron: Cron | None = None
    playbook: Playbook | None = None
    playbook_inputs: dict[str, Any] | None = None
    max_fixes: Annotated[int, Field(ge=1, le=100)] | None = None
    fix_window_s: Annotated[int, Field(ge=60, le=7 * 86400)] | None = None
    cooldown_s: Annotated[int, Field(ge=0, le=86400)] | None = None
    team_id: int | None = None
    enabled: bool | None = None


class CheckPublic(BaseModel):
    id: int
    name: str
    check: str
    params: dict[str, Any]
    thresholds: dict[str, Any]
    endpoint_ids: list[str]
    site_id: int | None
    tags: list[str]
    interval_s: int | None
    cron: str | None
    playbook: str | None
    playbook_inputs: dict[str, Any]
    max_fixes: int
    fix_window_s: int
    cooldown_s: int
    team_id: int | None
    enabled: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, check: Check) -> CheckPublic:
        return cls(
            id=check.id,
            **definitions.snapshot(check),
            version=version(check),
            created_at=check.created_at,
            updated_at=check.updated_at,
        )


class CheckResultPublic(BaseModel):
    id: int
    check_id: int
    endpoint_id: str
    status: str
    value: Any
    message: str
    evidence: dict[str, Any]
    at: dt.datetime
    received_at: dt.datetime

    @classmethod
    def of(cls, r: CheckResult) -> CheckResultPublic:
        return cls(
            id=r.id,
            check_id=r.check_id,
            endpoint_id=r.endpoint_id,
            status=r.status,
            value=r.value,
            message=r.message,
            evidence=r.evidence,
            at=r.at,
            received_at=r.received_at,
        )


class CheckStatePublic(BaseModel):
    status: str
    since: dt.datetime
    last_result_id: int | None
    ticket_id: int | None

    @classmethod
    def of(cls, s: CheckState) -> CheckStatePublic:
        return cls(
            status=s.status, since=s.since, last_result_id=s.last_result_id, ticket_id=s.ticket_id
        )


class EndpointCheck(BaseModel):
    check: CheckPublic
    state: CheckStatePublic | None
    last_result: CheckResultPublic | None


def _known(controller: Controller) -> PlaybookKnown:
    engine = getattr(controller, "playbooks", None)
    library = getattr(engine, "library", None)
    if library is None:
        return None

    def playbook(name: str) -> playbook_schema.Playbook | None:
        loaded = library.get(name)
        return None if loaded is None else loaded.playbook

    return playbook


def _where(values: dict[str, Any]) -> Where:
    return Where(tuple(values["endpoint_ids"]), values["site_id"], tuple(values["tags"]))


@router.get("/checks")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[CheckPublic]:
    page = await definitions.list_checks(session, actor, limit=limit, cursor=cursor)
    return PageOf(items=[CheckPublic.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("/checks", status_code=201)
async def create(
    body: CheckCreate, session: SessionDep, actor: Writer, controller: ControllerDep
) -> CheckPublic:
    check = await definitions.create_check(session, actor, body.model_dump(), _known(controller))
    public = CheckPublic.of(check)
    await controller.checks.changed([Where.of(check)])
    return public


@router.get("/checks/{check_id}")
async def get(check_id: int, session: SessionDep, actor: Reader) -> CheckPublic:
    return CheckPublic.of(await definitions.get_check(session, actor, check_id))


@router.patch("/checks/{check_id}")
async def update(
    check_id: int, body: CheckUpdate, session: SessionDep, actor: Writer, controller: ControllerDep
) -> CheckPublic:
    changes = body.model_dump(exclude_unset=True)
    check, before = await definitions.update_check(
        session, actor, check_id, changes, _known(controller)
    )
    public = CheckPublic.of(check)
    await controller.checks.changed([_where(before), Where.of(check)])
    return public


@router.delete("/checks/{check_id}", status_code=204)
async def delete(
    check_id: int, session: SessionDep, actor: Writer, controller: ControllerDep
) -> Response:
    before = await definitions.delete_check(session, actor, check_id)
    await controller.checks.changed([_where(before)])
    return Response(status_code=204)


@router.get("/checks/{check_id}/results")
async def list_results(
    check_id: int,
    session: SessionDep,
    actor: Reader,
    endpoint_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[str | None, Query(max_length=10, description="ok, warn, fail, error")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PageOf[CheckResultPublic]:
    check = await definitions.get_check(session, actor, check_id)
    page = await results.list_results(
        session,
        actor,
        check,
        endpoint_id=endpoint_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return PageOf(items=[CheckResultPublic.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/endpoints/{endpoint_id}/checks")
async def endpoint_checks(
    endpoint_id: str, session: SessionDep, actor: Reader
) -> list[EndpointCheck]:
    standings = await status.endpoint_checks(session, actor, endpoint_id)
    return [
        EndpointCheck(
            check=CheckPublic.of(s.check),
            state=CheckStatePublic.of(s.state) if s.state else None,
            last_result=CheckResultPublic.of(s.last_result) if s.last_result else None,
        )
        for s in standings
    ]
