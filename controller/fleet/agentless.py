"""Agentless endpoints: enrolled explicitly with their host key pinned, then reached on demand.

Trust on enrolment, never later: the ssh host key given (or, if none is given, the one seen
at this explicit enrolment) is pinned, and a different key later is refused by the transport.
Secrets are sealed before they touch the database and never come back out of the API.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import InvalidInput
from controller.fleet.endpoints import get_endpoint, snapshot
from controller.fleet.inventory import InventoryMessage, apply_inventory
from controller.fleet.validation import check_hostname, check_tags
from controller.storage.models import Endpoint, EndpointTag, Site
from controller.storage.types import utcnow
from controller.transports.errors import TransportError
from controller.transports.remote import Remote
from controller.transports.targets import DEFAULT_PORTS

# "ssh-ed25519 AAAA..." as OpenSSH writes it (known_hosts without the host, .pub without
# the comment).
HOST_KEY = re.compile(r"(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}")
ADDRESS = re.compile(r"[A-Za-z0-9_.:\[\]-]{1,255}")
WINRM_AUTH = ("ntlm", "kerberos", "basic")


@dataclass(frozen=True)
class Jump:
    address: str
    username: str
    port: int = 22
    password: str | None = None
    private_key: str | None = None
    host_key: str | None = None


@dataclass(frozen=True)
class AgentlessDraft:
    transport: str
    hostname: str
    address: str
    username: str
    port: int | None = None
    password: str | None = None
    private_key: str | None = None
    host_key: str | None = None
    site_id: int | None = None
    tags: list[str] = field(default_factory=list)
    sudo: bool = False
    jump: Jump | None = None
    winrm_auth: str = "ntlm"
    winrm_scheme: str = "https"
    winrm_validate_certificate: bool = True


@dataclass(frozen=True)
class Reached:
    """How a connectivity test went: ok, or the transport's error code and message."""

    ok: bool
    code: str | None = None
    message: str = ""


def _secrets(
    field_prefix: str, password: str | None, private_key: str | None, ssh: bool
) -> dict[str, str]:
    if password and private_key:
        raise InvalidInput(f"{field_prefix}password", "give a password or a private_key, not both")
    if not password and not private_key:
        raise InvalidInput(f"{field_prefix}password", "give a password or a private_key")
    if private_key and not ssh:
        raise InvalidInput(f"{field_prefix}private_key", "winrm takes a password")
    if private_key and "PRIVATE KEY-----" not in private_key:
        raise InvalidInput(f"{field_prefix}private_key", "a PEM or OpenSSH private key")
    return {"password": password} if password else {"private_key": private_key or ""}


def _host_key(value: str | None, field_name: str) -> str | None:
    if value is None:
        return None
    parts = value.split()
    key = " ".join(parts[:2])
    if not HOST_KEY.fullmatch(key) or _blob_type(parts[1]) != parts[0]:
        raise InvalidInput(field_name, "an OpenSSH public key: 'ssh-ed25519 AAAA...'")
    return key


def _blob_type(blob: str) -> str | None:
    """The key type written inside the base64 blob (a length-prefixed string)."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        return None
    size = int.from_bytes(raw[:4], "big")
    return raw[4 : 4 + size].decode("ascii", "replace") if len(raw) >= 4 + size else None


def _checked(draft: AgentlessDraft) -> tuple[dict[str, Any], dict[str, str]]:
    """The endpoint's columns and its secrets; InvalidInput naming the field otherwise."""
    if draft.transport not in DEFAULT_PORTS:
        raise InvalidInput("transport", "ssh or winrm (agents enrol themselves)")
    ssh = draft.transport == "ssh"
    check_hostname(draft.hostname)
    if not ADDRESS.fullmatch(draft.address):
        raise InvalidInput("address", "a host name or an IP address")
    if not 1 <= (draft.port or 1) <= 65535:
        raise InvalidInput("port", "1 to 65535")
    if not draft.username or len(draft.username) > 255 or any(c in draft.username for c in "\0\n"):
        raise InvalidInput("username", "1 to 255 characters, no newline")
    secrets = _secrets("", draft.password, draft.private_key, ssh)
    options: dict[str, Any] = {}
    if ssh:
        options["sudo"] = draft.sudo
    elif draft.sudo or draft.jump is not None or draft.host_key is not None:
        raise InvalidInput("transport", "sudo, jump_host and host_key are for ssh")
    else:
        if draft.winrm_auth not in WINRM_AUTH:
            raise InvalidInput("winrm_auth", f"one of {', '.join(WINRM_AUTH)}")
        if draft.winrm_scheme not in ("https", "http"):
            raise InvalidInput("winrm_scheme", "https or http")
        if draft.winrm_auth == "basic" and draft.winrm_scheme != "https":
            raise InvalidInput("winrm_auth", "basic sends the password itself: only over https")
        # The keys WinrmSettings.from_target reads (controller/transports/winrm/client.py).
        options["winrm"] = {
            "auth": draft.winrm_auth,
            "scheme": draft.winrm_scheme,
            "server_cert_validation": "validate" if draft.winrm_validate_certificate else "ignore",
        }
    if draft.jump is not None:
        jump = draft.jump
        if not ADDRESS.fullmatch(jump.address):
            raise InvalidInput("jump_host.address", "a host name or an IP address")
        if not jump.username:
            raise InvalidInput("jump_host.username", "required")
        jump_secrets = _secrets("jump_host.", jump.password, jump.private_key, True)
        secrets.update({f"jump_{k}": v for k, v in jump_secrets.items()})
        options["jump"] = {
            "address": jump.address,
            "port": jump.port,
            "username": jump.username,
            "host_key": _host_key(jump.host_key, "jump_host.host_key"),
        }
    columns = {
        "transport": draft.transport,
        "hostname": draft.hostname,
        "address": draft.address,
        "port": draft.port or _default_port(draft),
        "username": draft.username,
        "host_key": _host_key(draft.host_key, "host_key"),
        "remote_options": options,
    }
    return columns, secrets


def _default_port(draft: AgentlessDraft) -> int:
    if draft.transport == "winrm" and draft.winrm_scheme == "http":
        return 5985
    return DEFAULT_PORTS[draft.transport]


async def _pin(remote: Remote, endpoint: Endpoint) -> None:
    """Pin the keys seen now, at this explicit enrolment, where none was given."""
    if endpoint.transport != "ssh":
        return
    transport = remote.transport("ssh")
    target = remote.target(endpoint)
    try:
        if target.jump is not None and target.jump.host_key is None:
            seen = await transport.host_key(target.jump)
            options = dict(endpoint.remote_options or {})
            options["jump"] = {**options["jump"], "host_key": seen}
            endpoint.remote_options = options
            target = replace(target, jump=replace(target.jump, host_key=seen))
        if endpoint.host_key is None:
            endpoint.host_key = await transport.host_key(target)
    except TransportError as exc:
        raise InvalidInput(
            "host_key", f"could not read the host key to pin it ({exc}); give host_key"
        ) from None


async def enrol_agentless(
    session: AsyncSession, actor: Actor, draft: AgentlessDraft, remote: Remote
) -> Endpoint:
    actor.require(Permission.ENROLL)
    columns, secrets = _checked(draft)
    unknown = draft.site_id is not None and await session.get(Site, draft.site_id) is None
    if unknown or not actor.sees_site(draft.site_id):
        raise InvalidInput("site_id", f"no site with id {draft.site_id} among yours")
    if actor.site_ids is not None and draft.site_id is None:
        raise InvalidInput("site_id", "give one of your sites")
    remote.transport(draft.transport)  # this controller can reach it at all
    endpoint = Endpoint(
        id=str(uuid.uuid4()),
        site_id=draft.site_id,
        credentials=remote.vault.seal(secrets),
        **columns,
    )
    endpoint.tags = [EndpointTag(endpoint_id=endpoint.id, tag=t) for t in check_tags(draft.tags)]
    await _pin(remote, endpoint)
    session.add(endpoint)
    await session.flush()
    audit.record(session, actor, "enroll", "endpoint", endpoint.id, after=snapshot(endpoint))
    await session.commit()
    await session.refresh(endpoint)
    return endpoint


async def trust_host_key(
    session: AsyncSession, actor: Actor, endpoint_id: str, remote: Remote, host_key: str | None
) -> Endpoint:
    """Pin a new host key after a legitimate change (a reinstall): the one given, or the one
    the host shows to this explicit request. Audited with the old and the new key."""
    actor.require(Permission.ENROLL)
    endpoint = await get_endpoint(session, actor, endpoint_id)
    if endpoint.transport != "ssh":
        raise InvalidInput("endpoint_id", "host keys are pinned for ssh endpoints only")
    before = endpoint.host_key
    endpoint.host_key = _host_key(host_key, "host_key")
    await _pin(remote, endpoint)
    audit.record(
        session,
        actor,
        "trust",
        "endpoint",
        endpoint.id,
        before={"host_key": before},
        after={"host_key": endpoint.host_key},
    )
    await session.commit()
    await session.refresh(endpoint)
    return endpoint


async def reach(session: AsyncSession, actor: Actor, endpoint_id: str, remote: Remote) -> Reached:
    """Connect, authenticate and read the inventory now: the connectivity test, and
    inventory on demand. Stores the inventory; marks the endpoint online or offline."""
    actor.require(Permission.RUNS_CREATE)
    endpoint = await get_endpoint(session, actor, endpoint_id)
    if endpoint.transport not in DEFAULT_PORTS:
        raise InvalidInput("endpoint_id", "an agent reports on its own; this is for ssh or winrm")
    reached = await collect(session, remote, endpoint)
    after = {"ok": reached.ok, "code": reached.code}
    audit.record(session, actor, "test", "endpoint", endpoint_id, after=after)
    await session.commit()
    return reached


async def collect(session: AsyncSession, remote: Remote, endpoint: Endpoint) -> Reached:
    """The inventory of an agentless endpoint, stored like an agent's full snapshot."""
    endpoint_id = endpoint.id
    try:
        sections = await remote.transport(endpoint.transport).inventory(remote.target(endpoint))
    except TransportError as exc:
        endpoint.connected = False
        await session.commit()
        return Reached(False, getattr(exc, "code", "transport_error"), str(exc))
    now = utcnow()
    message = InventoryMessage(
        seq=endpoint.last_seq + 1,
        full=True,
        base_seq=0,
        collected_at=now,
        sections=sections,
        removed=[],
    )
    await apply_inventory(session, endpoint_id, message)
    await mark_reached(session, endpoint_id, now)
    return Reached(True)


async def mark_reached(session: AsyncSession, endpoint_id: str, when: dt.datetime) -> None:
    endpoint = await session.get(Endpoint, endpoint_id, populate_existing=True)
    if endpoint is not None:
        endpoint.connected, endpoint.last_seen = True, when
        await session.commit()
