"""Every route of the OpenAPI document, with every role: allowed or denied as the policy says.

A route that is not in EXPECTED fails the build, so no route ships without a rule.
Requests use IDs that do not exist and empty bodies: an allowed role gets past the
permission check (then 200, 404 or 422), a denied one gets 403, nobody gets 401 but
the anonymous. Nothing is changed by the walk.
"""

from __future__ import annotations

import re

import httpx
import pytest
from conftest import ROLES
from processes import ControllerProcess

PUBLIC = "public"
SESSION_ONLY = "session-only"
EVERYONE = set(ROLES)
STAFF = {"tier1", "tier2", "usa", "admin", "auditor"}
ADMIN = {"admin"}
HANDS = {"tier1", "tier2", "usa", "admin"}  # who may ask endpoints to act

CHECK_WRITERS = {"tier2", "usa", "admin"}

EXPECTED: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/api/v1/health"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): SESSION_ONLY,
    ("GET", "/api/v1/me"): EVERYONE,
    ("PATCH", "/api/v1/me"): EVERYONE,
    ("GET", "/api/v1/endpoints"): STAFF,
    ("POST", "/api/v1/endpoints"): {"usa", "admin"},
    ("POST", "/api/v1/endpoints/{endpoint_id}/test"): HANDS,
    ("POST", "/api/v1/endpoints/{endpoint_id}/trust-host-key"): {"usa", "admin"},
    ("GET", "/api/v1/endpoints/{endpoint_id}"): STAFF,
    ("PATCH", "/api/v1/endpoints/{endpoint_id}"): {"tier2", "usa", "admin"},
    ("POST", "/api/v1/endpoints/{endpoint_id}/revoke"): {"usa", "admin"},
    ("GET", "/api/v1/endpoints/{endpoint_id}/inventory"): STAFF,
    ("GET", "/api/v1/endpoints/{endpoint_id}/inventory/history"): STAFF,
    ("GET", "/api/v1/endpoints/{endpoint_id}/inventory/changes"): STAFF,
    ("GET", "/api/v1/fleet/groups"): STAFF,
    ("GET", "/api/v1/actions"): STAFF,
    ("GET", "/api/v1/reports/desk"): STAFF,
    ("GET", "/api/v1/self-service/this-machine"): EVERYONE,
    ("GET", "/api/v1/self-service/fixes"): EVERYONE,
    ("POST", "/api/v1/self-service/fixes/{fix_id}"): EVERYONE,
    ("GET", "/api/v1/self-service/runs"): EVERYONE,
    ("GET", "/api/v1/self-service/runs/{run_id}"): EVERYONE,
    ("POST", "/api/v1/self-service/tickets/{ticket_id}/this-machine"): EVERYONE,
    ("GET", "/api/v1/tickets/{ticket_id}/survey"): EVERYONE,
    ("POST", "/api/v1/tickets/{ticket_id}/survey"): EVERYONE,
    ("POST", "/api/v1/enrollment-tokens"): {"usa", "admin"},
    ("GET", "/api/v1/sites"): STAFF,
    ("POST", "/api/v1/sites"): ADMIN,
    ("GET", "/api/v1/sites/{site_id}"): STAFF,
    ("PATCH", "/api/v1/sites/{site_id}"): ADMIN,
    ("DELETE", "/api/v1/sites/{site_id}"): ADMIN,
    ("GET", "/api/v1/users"): STAFF,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{user_id}"): STAFF,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/teams"): STAFF,
    ("POST", "/api/v1/teams"): ADMIN,
    ("GET", "/api/v1/teams/{team_id}"): STAFF,
    ("PATCH", "/api/v1/teams/{team_id}"): ADMIN,
    ("DELETE", "/api/v1/teams/{team_id}"): ADMIN,
    ("GET", "/api/v1/tokens"): STAFF,
    ("POST", "/api/v1/tokens"): STAFF,
    ("DELETE", "/api/v1/tokens/{token_id}"): STAFF,
    ("GET", "/api/v1/audit"): {"admin", "auditor"},
    ("GET", "/api/v1/runs"): STAFF,
    ("POST", "/api/v1/runs"): HANDS,
    ("GET", "/api/v1/runs/{run_id}"): STAFF,
    ("GET", "/api/v1/runs/{run_id}/events"): STAFF,
    ("POST", "/api/v1/runs/{run_id}/cancel"): HANDS,
    ("POST", "/api/v1/runs/{run_id}/approve"): {"tier2", "admin"},
    ("POST", "/api/v1/runs/{run_id}/deny"): {"tier2", "admin"},
    ("GET", "/api/v1/tickets"): EVERYONE,
    ("POST", "/api/v1/tickets"): EVERYONE,
    ("GET", "/api/v1/tickets/export.csv"): EVERYONE,
    ("GET", "/api/v1/tickets/{ticket_id}"): EVERYONE,
    ("PATCH", "/api/v1/tickets/{ticket_id}"): HANDS,
    ("POST", "/api/v1/tickets/{ticket_id}/comments"): EVERYONE,
    ("POST", "/api/v1/tickets/{ticket_id}/transition"): EVERYONE,
    ("POST", "/api/v1/tickets/{ticket_id}/assign"): HANDS,
    ("POST", "/api/v1/tickets/{ticket_id}/escalate"): HANDS,
    ("GET", "/api/v1/tickets/{ticket_id}/timeline"): EVERYONE,
    ("GET", "/api/v1/teams/{team_id}/queue"): STAFF,
    ("POST", "/api/v1/tickets/{ticket_id}/kb-draft"): HANDS,
    ("GET", "/api/v1/tickets/{ticket_id}/suggestions"): EVERYONE,
    ("GET", "/api/v1/tickets/{ticket_id}/attachments"): EVERYONE,
    ("GET", "/api/v1/tickets/{ticket_id}/attachments/{attachment_id}"): EVERYONE,
    ("GET", "/api/v1/kb"): EVERYONE,
    ("GET", "/api/v1/kb/search"): EVERYONE,
    ("GET", "/api/v1/kb/suggest"): EVERYONE,
    ("GET", "/api/v1/kb/{article_id}"): EVERYONE,
    ("GET", "/api/v1/kb/{article_id}/versions"): HANDS,
    ("POST", "/api/v1/kb"): HANDS,
    ("PATCH", "/api/v1/kb/{article_id}"): HANDS,
    ("POST", "/api/v1/kb/{article_id}/publish"): {"tier2", "admin"},
    ("POST", "/api/v1/kb/{article_id}/unpublish"): {"tier2", "admin"},
    ("GET", "/api/v1/categories"): EVERYONE,
    ("POST", "/api/v1/categories"): ADMIN,
    ("GET", "/api/v1/categories/{category_id}"): EVERYONE,
    ("PATCH", "/api/v1/categories/{category_id}"): ADMIN,
    ("DELETE", "/api/v1/categories/{category_id}"): ADMIN,
    ("GET", "/api/v1/calendars"): STAFF,
    ("POST", "/api/v1/calendars"): ADMIN,
    ("GET", "/api/v1/calendars/{calendar_id}"): STAFF,
    ("PATCH", "/api/v1/calendars/{calendar_id}"): ADMIN,
    ("DELETE", "/api/v1/calendars/{calendar_id}"): ADMIN,
    ("GET", "/api/v1/sla-policies"): STAFF,
    ("POST", "/api/v1/sla-policies"): ADMIN,
    ("GET", "/api/v1/sla-policies/{policy_id}"): STAFF,
    ("PATCH", "/api/v1/sla-policies/{policy_id}"): ADMIN,
    ("DELETE", "/api/v1/sla-policies/{policy_id}"): ADMIN,
    ("GET", "/api/v1/routing-rules"): STAFF,
    ("POST", "/api/v1/routing-rules"): ADMIN,
    ("GET", "/api/v1/routing-rules/{rule_id}"): STAFF,
    ("PATCH", "/api/v1/routing-rules/{rule_id}"): ADMIN,
    ("DELETE", "/api/v1/routing-rules/{rule_id}"): ADMIN,
    ("GET", "/api/v1/webhooks"): ADMIN,
    ("POST", "/api/v1/webhooks"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("GET", "/api/v1/checks"): STAFF,
    ("POST", "/api/v1/checks"): CHECK_WRITERS,
    ("GET", "/api/v1/checks/{check_id}"): STAFF,
    ("PATCH", "/api/v1/checks/{check_id}"): CHECK_WRITERS,
    ("DELETE", "/api/v1/checks/{check_id}"): CHECK_WRITERS,
    ("GET", "/api/v1/checks/{check_id}/results"): STAFF,
    ("GET", "/api/v1/endpoints/{endpoint_id}/checks"): STAFF,
    ("GET", "/api/v1/incidents"): STAFF,
    ("POST", "/api/v1/incidents/{check_id}/{endpoint_id}/silence"): CHECK_WRITERS,
    ("POST", "/api/v1/incidents/{check_id}/{endpoint_id}/acknowledge"): HANDS,
    ("GET", "/api/v1/maintenance-windows"): STAFF,
    ("POST", "/api/v1/maintenance-windows"): CHECK_WRITERS,
    ("DELETE", "/api/v1/maintenance-windows/{window_id}"): CHECK_WRITERS,
    ("GET", "/api/v1/automation"): STAFF,
    ("PUT", "/api/v1/automation"): ADMIN,
    ("GET", "/api/v1/playbooks"): STAFF,
    ("GET", "/api/v1/playbooks/{name}"): STAFF,
    ("GET", "/api/v1/playbook-runs"): STAFF,
    ("POST", "/api/v1/playbook-runs"): HANDS,
    ("GET", "/api/v1/playbook-runs/{run_id}"): STAFF,
    ("POST", "/api/v1/playbook-runs/{run_id}/cancel"): HANDS,
}


def _routes(controller: ControllerProcess) -> list[tuple[str, str]]:
    spec = httpx.get(controller.url + "/api/v1/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    )


def _concrete(path: str) -> str:
    # IDs that exist nowhere: the walk must not change anything.
    return re.sub(
        r"\{(\w+)\}",
        lambda m: "no-such-endpoint" if m.group(1) == "endpoint_id" else "987654",
        path,
    )


def _call(
    controller: ControllerProcess, method: str, path: str, token: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if method in {"POST", "PATCH", "PUT"} else None
    return httpx.request(
        method, controller.url + _concrete(path), headers=headers, json=body, timeout=30
    )


def test_every_route_has_a_rule_and_no_rule_is_stale(controller: ControllerProcess) -> None:
    routes = set(_routes(controller))
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    assert not missing, f"routes without an access rule in this test: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


def test_anonymous_callers_get_401_everywhere_but_public_routes(
    controller: ControllerProcess,
) -> None:
    for method, path in _routes(controller):
        response = _call(controller, method, path, None)
        if EXPECTED[(method, path)] == PUBLIC:
            assert response.status_code not in (401, 403), (method, path, response.text)
        else:
            assert response.status_code == 401, (method, path, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_or_denied_as_the_policy_says(
    controller: ControllerProcess, role_tokens: dict[str, str], role: str
) -> None:
    wrong: list[str] = []
    for method, path in _routes(controller):
        rule = EXPECTED[(method, path)]
        response = _call(controller, method, path, role_tokens[role])
        if rule == PUBLIC:
            ok = response.status_code not in (401, 403)
        elif rule == SESSION_ONLY:
            ok = response.status_code == 401  # a bearer token is not a console session
        elif role in rule:
            ok = response.status_code not in (401, 403)
        else:
            ok = response.status_code == 403
        if not ok:
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)
