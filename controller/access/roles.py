"""The fixed roles and what each may do."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    REQUESTER = "requester"
    TIER1 = "tier1"
    TIER2 = "tier2"
    USA = "usa"  # site systems administrator: only the machines of their sites
    ADMIN = "admin"
    AUDITOR = "auditor"  # reads everything, the audit trail included; changes nothing


class Permission(enum.StrEnum):
    ENDPOINTS_READ = "endpoints:read"
    ENDPOINTS_WRITE = "endpoints:write"  # move between sites, tag
    ENDPOINTS_REVOKE = "endpoints:revoke"
    ENROLL = "enrollment:create"
    SITES_READ = "sites:read"
    SITES_WRITE = "sites:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    TEAMS_READ = "teams:read"
    TEAMS_WRITE = "teams:write"
    TOKENS_OWN = "tokens:own"  # create, list and revoke one's own API tokens
    TOKENS_READ_ALL = "tokens:read-all"
    TOKENS_ALL = "tokens:all"  # create and revoke anyone's
    AUDIT_READ = "audit:read"
    RUNS_READ = "runs:read"
    RUNS_CREATE = "runs:create"  # up to medium risk alone; high risk waits for approval
    RUNS_APPROVE = "runs:approve"  # approve others' high-risk runs, run high risk directly
    TICKETS_OWN = "tickets:own"  # open tickets, follow and comment on one's own
    TICKETS_READ = "tickets:read"  # every ticket within the actor's sites
    TICKETS_WRITE = "tickets:write"  # take, assign, move, escalate, comment internally
    DESK_CONFIG = "desk:config"  # categories, SLA policies, calendars, routing, webhooks
    KB_READ = "kb:read"  # published articles (staff also see drafts)
    KB_WRITE = "kb:write"  # write and edit drafts
    KB_PUBLISH = "kb:publish"
    CHECKS_READ = "checks:read"  # health checks, their results and states
    CHECKS_WRITE = "checks:write"  # create, change, delete checks (a USA: on their sites)


P = Permission
_STAFF_READ = {
    P.ENDPOINTS_READ,
    P.SITES_READ,
    P.TEAMS_READ,
    P.USERS_READ,
    P.TOKENS_OWN,
    P.RUNS_READ,
    P.TICKETS_OWN,
    P.TICKETS_READ,
    P.KB_READ,
    P.CHECKS_READ,
}
_HANDS = {P.RUNS_CREATE, P.TICKETS_WRITE, P.KB_WRITE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.REQUESTER: frozenset({P.TICKETS_OWN, P.KB_READ}),
    Role.TIER1: frozenset(_STAFF_READ | _HANDS),
    Role.TIER2: frozenset(
        _STAFF_READ | _HANDS | {P.ENDPOINTS_WRITE, P.RUNS_APPROVE, P.KB_PUBLISH, P.CHECKS_WRITE}
    ),
    Role.USA: frozenset(
        _STAFF_READ | _HANDS | {P.ENDPOINTS_WRITE, P.ENDPOINTS_REVOKE, P.ENROLL, P.CHECKS_WRITE}
    ),
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset(_STAFF_READ | {P.TOKENS_READ_ALL, P.AUDIT_READ}),
}

# Roles whose power is bounded by a list of sites.
SITE_SCOPED = frozenset({Role.USA})


def may_token_act_as(owner: Role, token_role: Role) -> bool:
    """A token can narrow its owner's role, never widen it.

    A site-scoped token role needs an owner with sites of their own to scope it by.
    """
    if token_role == owner:
        return True
    if token_role in SITE_SCOPED:
        return False
    return ROLE_PERMISSIONS[token_role] <= ROLE_PERMISSIONS[owner]
