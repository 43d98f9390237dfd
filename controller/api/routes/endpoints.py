"""Endpoints: the fleet, each endpoint, its inventory and its history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.api.patching import PatchModel
from controller.fleet import enrollment
from controller.fleet.endpoints import (
    EndpointFilter,
    get_endpoint,
    is_online,
    list_endpoints,
    update_endpoint,
)
from controller.fleet.inventory import inventory_history, latest_inventory
from controller.storage.models import Endpoint

router = APIRouter(prefix="/endpoints", tags=["endpoints"])
Reader = Annotated[Actor, Depends(allowed(Permission.ENDPOINTS_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.ENDPOINTS_WRITE))]
Revoker = Annotated[Actor, Depends(allowed(Permission.ENDPOINTS_REVOKE))]


class RemotePublic(BaseModel):
    address: str
    port: int | None
    username: str | None
    host_key: str | None = Field(description="ssh: the pinned host key")
    options: dict[str, Any] = Field(description="sudo, jump host (no secrets), winrm settings")


class EndpointPublic(BaseModel):
    id: str
    hostname: str
    site: str | None
    tags: list[str]
    os: str
    os_family: str
    transport: str
    online: bool
    last_seen: dt.datetime | None
    agent_version: str
    enrolled_at: dt.datetime
    revoked: bool
    agent_policy: dict[str, Any] | None = Field(
        description="what the agent refuses whatever it is asked (its policy.toml)"
    )
    remote: RemotePublic | None = Field(
        default=None, description="ssh and winrm endpoints: how they are reached (no secrets)"
    )


class EndpointUpdate(PatchModel):
    nullable = frozenset({"site_id"})

    site_id: int | None = Field(default=None, description="move to this site (null: no site)")
    tags: list[str] | None = Field(default=None, max_length=32, description="replace the tags")


class EndpointsPage(BaseModel):
    items: list[EndpointPublic]
    next_cursor: str | None


class InventoryPublic(BaseModel):
    endpoint_id: str
    seq: int
    collected_at: dt.datetime
    received_at: dt.datetime
    sections: dict[str, Any]


class InventoryChangePublic(BaseModel):
    id: int
    seq: int
    full: bool
    collected_at: dt.datetime
    received_at: dt.datetime
    changed_sections: list[str]
    removed_sections: list[str]
    sections: dict[str, Any] | None


class InventoryHistoryPage(BaseModel):
    items: list[InventoryChangePublic]
    next_before: int | None


def public(endpoint: Endpoint, window: dt.timedelta) -> EndpointPublic:
    return EndpointPublic(
        id=endpoint.id,
        hostname=endpoint.hostname,
        site=endpoint.site.name if endpoint.site else None,
        tags=[t.tag for t in endpoint.tags],
        os=endpoint.os_name,
        os_family=endpoint.os_family,
        transport=endpoint.transport,
        online=is_online(endpoint, window),
        last_seen=endpoint.last_seen,
        agent_version=endpoint.agent_version,
        enrolled_at=endpoint.enrolled_at,
        revoked=endpoint.revoked_at is not None,
        agent_policy=endpoint.agent_policy,
        remote=None
        if endpoint.transport == "agent"
        else RemotePublic(
            address=endpoint.address or endpoint.hostname,
            port=endpoint.port,
            username=endpoint.username,
            host_key=endpoint.host_key,
            options=endpoint.remote_options or {},
        ),
    )


@router.get("")
async def list_(
    session: SessionDep,
    controller: ControllerDep,
    actor: Reader,
    site: str | None = None,
    tag: str | None = None,
    os: Annotated[
        str | None, Query(description="OS family (linux, windows, darwin) or part of its name")
    ] = None,
    online: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> EndpointsPage:
    page = await list_endpoints(
        session,
        actor,
        EndpointFilter(site=site, tag=tag, os=os, online=online),
        window=controller.online_window,
        limit=limit,
        cursor=cursor,
    )
    window = controller.online_window
    return EndpointsPage(
        items=[public(e, window) for e in page.items], next_cursor=page.next_cursor
    )


@router.get("/{endpoint_id}")
async def get(
    endpoint_id: str, session: SessionDep, controller: ControllerDep, actor: Reader
) -> EndpointPublic:
    return public(await get_endpoint(session, actor, endpoint_id), controller.online_window)


@router.patch("/{endpoint_id}")
async def update(
    endpoint_id: str,
    body: EndpointUpdate,
    session: SessionDep,
    controller: ControllerDep,
    actor: Writer,
) -> EndpointPublic:
    """Move the endpoint to another site and/or replace its tags."""
    endpoint = await update_endpoint(
        session,
        actor,
        endpoint_id,
        site_id=body.site_id,
        move_site="site_id" in body.model_fields_set,
        tags=body.tags,
    )
    # Checks target sites and tags: a connected agent gets its new check set now.
    await controller.checks.endpoint_changed(endpoint_id)
    return public(endpoint, controller.online_window)


@router.post("/{endpoint_id}/revoke")
async def revoke(
    endpoint_id: str, session: SessionDep, controller: ControllerDep, actor: Revoker
) -> EndpointPublic:
    """Refuse the endpoint's certificate from now on and close its stream."""
    endpoint = await enrollment.revoke(session, actor, endpoint_id)
    controller.presence.kick(endpoint_id, "certificate revoked")
    return public(endpoint, controller.online_window)


@router.get("/{endpoint_id}/inventory")
async def inventory(endpoint_id: str, session: SessionDep, actor: Reader) -> InventoryPublic:
    latest = await latest_inventory(session, actor, endpoint_id)
    return InventoryPublic(
        endpoint_id=endpoint_id,
        seq=latest.seq,
        collected_at=latest.collected_at,
        received_at=latest.received_at,
        sections=latest.data,
    )


@router.get("/{endpoint_id}/inventory/history")
async def history(
    endpoint_id: str,
    session: SessionDep,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(description="next_before of the previous page")] = None,
    include_sections: Annotated[bool, Query(description="include each change's content")] = False,
) -> InventoryHistoryPage:
    changes = await inventory_history(session, actor, endpoint_id, limit=limit, before_id=before)
    items = [
        InventoryChangePublic(
            id=c.id,
            seq=c.seq,
            full=c.full,
            collected_at=c.collected_at,
            received_at=c.received_at,
            changed_sections=sorted(c.sections),
            removed_sections=c.removed,
            sections=c.sections if include_sections else None,
        )
        for c in changes
    ]
    return InventoryHistoryPage(
        items=items, next_before=changes[-1].id if len(changes) == limit else None
    )
