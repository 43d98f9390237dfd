"""Enrolment: one-time tokens that let a new agent get its client certificate."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import EnrollmentRefused, InvalidInput, Unauthenticated
from controller.fleet.endpoints import get_endpoint, snapshot
from controller.fleet.validation import check_hostname, check_tags
from controller.pki import CertificateAuthority
from controller.secrets import new_secret, secret_hash
from controller.storage.models import Endpoint, EndpointTag, EnrollmentToken, Site
from controller.storage.types import utcnow


@dataclass(frozen=True)
class IssuedToken:
    token: str
    ca_hash: str
    expires_at: dt.datetime
    site: str | None
    tags: list[str]


@dataclass(frozen=True)
class Enrolled:
    endpoint_id: str
    certificate_pem: bytes
    site: str | None
    tags: list[str]


async def create_token(
    session: AsyncSession,
    actor: Actor,
    ca: CertificateAuthority,
    *,
    ttl_s: int,
    site_id: int | None = None,
    tags: list[str] | None = None,
) -> IssuedToken:
    actor.require(Permission.ENROLL)
    clean_tags = check_tags(tags or [])
    site = None
    if site_id is not None:
        site = await session.get(Site, site_id)
        if site is None or not actor.sees_site(site_id):
            raise InvalidInput("site_id", f"no site with id {site_id}")
    elif actor.site_ids is not None:
        raise InvalidInput("site_id", "required: endpoints you enrol must join one of your sites")
    token = new_secret("dse")
    row = EnrollmentToken(
        token_hash=secret_hash(token),
        site_id=site_id,
        tags=clean_tags,
        created_by=actor.user_id,
        expires_at=utcnow() + dt.timedelta(seconds=ttl_s),
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor,
        "create",
        "enrollment_token",
        row.id,
        after={"site_id": site_id, "tags": clean_tags, "expires_at": row.expires_at.isoformat()},
    )
    await session.commit()
    return IssuedToken(token, ca.ca_hash, row.expires_at, site.name if site else None, clean_tags)


async def enroll(
    session: AsyncSession,
    ca: CertificateAuthority,
    *,
    token: str,
    csr_pem: bytes,
    hostname: str,
    agent_version: str,
    os_name: str,
) -> Enrolled:
    """Consume the token and issue a certificate; on any refusal nothing is written."""
    row = await session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == secret_hash(token))
    )
    if row is None:
        raise EnrollmentRefused("token_unknown", "token: unknown enrolment token")
    if row.used_at is not None:
        raise EnrollmentRefused("token_used", "token: this enrolment token was already used")
    if row.expires_at <= utcnow():
        raise EnrollmentRefused("token_expired", "token: this enrolment token has expired")
    try:
        check_hostname(hostname)
    except InvalidInput as exc:
        raise EnrollmentRefused("bad_request", str(exc)) from None
    endpoint_id = str(uuid.uuid4())
    issued = ca.sign_agent_csr(csr_pem, endpoint_id)
    # Claim the token with a conditional update so two agents racing on one token
    # cannot both win, on SQLite as on PostgreSQL.
    claimed = await session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == row.id, EnrollmentToken.used_at.is_(None))
        .values(used_at=utcnow(), endpoint_id=endpoint_id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise EnrollmentRefused("token_used", "token: this enrolment token was already used")
    endpoint = Endpoint(
        id=endpoint_id,
        hostname=hostname,
        site_id=row.site_id,
        os_name=os_name[:200],
        agent_version=agent_version[:50],
        cert_serial=issued.serial,
        cert_not_after=issued.not_after,
        tags=[EndpointTag(tag=t) for t in row.tags],
    )
    session.add(endpoint)
    await session.flush()
    enroller = Actor.system(f"enrolment token #{row.id}")
    audit.record(session, enroller, "create", "endpoint", endpoint_id, after=snapshot(endpoint))
    await session.commit()
    return Enrolled(endpoint_id, issued.pem, row.site.name if row.site else None, list(row.tags))


async def authenticate_agent(session: AsyncSession, endpoint_id: str, serial: str) -> Endpoint:
    """The endpoint a client certificate belongs to, if it is still valid."""
    endpoint = await session.get(Endpoint, endpoint_id)
    if endpoint is None:
        raise Unauthenticated(f"unknown endpoint {endpoint_id}")
    if endpoint.revoked_at is not None:
        raise Unauthenticated(f"endpoint {endpoint_id} was revoked")
    if endpoint.cert_serial != serial:
        raise Unauthenticated(f"certificate {serial} is not the current one of {endpoint_id}")
    return endpoint


async def revoke(session: AsyncSession, actor: Actor, endpoint_id: str) -> Endpoint:
    actor.require(Permission.ENDPOINTS_REVOKE)
    endpoint = await get_endpoint(session, actor, endpoint_id)
    if endpoint.revoked_at is None:
        before = snapshot(endpoint)
        endpoint.revoked_at = utcnow()
        endpoint.connected = False
        audit.record(
            session,
            actor,
            "revoke",
            "endpoint",
            endpoint.id,
            before=before,
            after=snapshot(endpoint),
        )
        await session.commit()
    return endpoint
