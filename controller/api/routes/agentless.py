"""Agentless endpoints: enrol one reached over ssh or winrm, test it, read it now."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import ControllerDep, SessionDep, allowed
from controller.api.routes.endpoints import EndpointPublic, public
from controller.errors import Conflict
from controller.fleet import agentless
from controller.transports.remote import Remote

router = APIRouter(prefix="/endpoints", tags=["endpoints"])
Enroller = Annotated[Actor, Depends(allowed(Permission.ENROLL))]
# A test connects to the machine and reads it: asking an endpoint to act.
Tester = Annotated[Actor, Depends(allowed(Permission.RUNS_CREATE))]
Secret = Annotated[str, Field(min_length=1, max_length=16384)]
Address = Annotated[str, Field(min_length=1, max_length=255)]


class JumpHost(BaseModel):
    address: Address
    port: int = Field(default=22, ge=1, le=65535)
    username: Annotated[str, Field(min_length=1, max_length=255)]
    password: Secret | None = None
    private_key: Secret | None = Field(default=None, description="PEM or OpenSSH")
    host_key: str | None = Field(
        default=None, description="pin this key; default: the one seen now"
    )


class AgentlessCreate(BaseModel):
    transport: Literal["ssh", "winrm"]
    hostname: Annotated[str, Field(min_length=1, max_length=253)]
    address: Address
    port: int | None = Field(default=None, ge=1, le=65535, description="22 (ssh), 5986 (winrm)")
    username: Annotated[str, Field(min_length=1, max_length=255)]
    password: Secret | None = None
    private_key: Secret | None = Field(default=None, description="ssh: PEM or OpenSSH")
    host_key: str | None = Field(
        default=None,
        description="ssh: pin this key ('ssh-ed25519 AAAA...'); default: the one seen now",
    )
    site_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=32)
    sudo: bool = Field(default=False, description="ssh: run what changes the machine via sudo -n")
    jump_host: JumpHost | None = None
    winrm_auth: Literal["ntlm", "kerberos", "basic"] = "ntlm"
    winrm_scheme: Literal["https", "http"] = Field(
        default="https", description="http only with ntlm or kerberos (message encryption)"
    )
    winrm_validate_certificate: bool = Field(
        default=True, description="false only for a lab: the server is then not authenticated"
    )


class Connectivity(BaseModel):
    ok: bool
    code: str | None = Field(
        description="unreachable, host_key_refused, authentication_failed, ..."
    )
    message: str


class AgentlessEnrolled(EndpointPublic):
    connectivity: Connectivity = Field(description="the test run at enrolment")


def _remote(controller: ControllerDep) -> Remote:
    if controller.remote is None:
        raise Conflict("this controller reaches no agentless endpoints")
    return controller.remote


@router.post("", status_code=status.HTTP_201_CREATED)
async def enrol(
    body: AgentlessCreate, session: SessionDep, controller: ControllerDep, actor: Enroller
) -> AgentlessEnrolled:
    """Enrol a machine without an agent; its ssh host key is pinned now. The connectivity
    test (connect, authenticate, read the inventory) runs at once; its failure is reported,
    not refused, so a machine that is off today can be enrolled."""
    remote = _remote(controller)
    draft = agentless.AgentlessDraft(
        transport=body.transport,
        hostname=body.hostname,
        address=body.address,
        port=body.port,
        username=body.username,
        password=body.password,
        private_key=body.private_key,
        host_key=body.host_key,
        site_id=body.site_id,
        tags=body.tags,
        sudo=body.sudo,
        jump=None if body.jump_host is None else agentless.Jump(**body.jump_host.model_dump()),
        winrm_auth=body.winrm_auth,
        winrm_scheme=body.winrm_scheme,
        winrm_validate_certificate=body.winrm_validate_certificate,
    )
    endpoint = await agentless.enrol_agentless(session, actor, draft, remote)
    if controller.remote_runs is not None:
        await controller.remote_runs.refresh()
    reached = await agentless.collect(session, remote, endpoint)
    await session.refresh(endpoint)
    return AgentlessEnrolled(
        **public(endpoint, controller.online_window).model_dump(),
        connectivity=Connectivity(ok=reached.ok, code=reached.code, message=reached.message),
    )


class HostKeyTrust(BaseModel):
    host_key: str | None = Field(
        default=None, description="the new key; default: the one the host shows now"
    )


@router.post("/{endpoint_id}/trust-host-key")
async def trust_host_key(
    endpoint_id: str,
    body: HostKeyTrust,
    session: SessionDep,
    controller: ControllerDep,
    actor: Enroller,
) -> EndpointPublic:
    """After a legitimate host key change (a reinstall): pin the new key, explicitly."""
    endpoint = await agentless.trust_host_key(
        session, actor, endpoint_id, _remote(controller), body.host_key
    )
    return public(endpoint, controller.online_window)


@router.post("/{endpoint_id}/test")
async def test(
    endpoint_id: str, session: SessionDep, controller: ControllerDep, actor: Tester
) -> Connectivity:
    """Connect, authenticate and read the inventory now (stored, like the scheduled one)."""
    reached = await agentless.reach(session, actor, endpoint_id, _remote(controller))
    return Connectivity(ok=reached.ok, code=reached.code, message=reached.message)
