"""The audit trail is complete for every write, carries the request's ID, and cannot be edited."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import AgentProcess, ControllerProcess
from sql import query

PASSWORD = "audit trail passphrase"
NOW = dt.datetime.now(dt.UTC).isoformat()
IN_AN_HOUR = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
AGENTLESS = {
    "transport": "ssh",
    "hostname": "kiosk-audit",
    "address": "127.0.0.1",
    "port": 9,
    "username": "deskside",
    "password": PASSWORD,
    "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqkXw9C0QNJwB7Bb8ivTAw5UdKTz1Hq9rUZKMTQvNG",
}
AGENTLESS_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
# Each write route, in an order where earlier steps create what later ones need.
# (method, path, body, expected action, expected object type[, who asks])
STEPS: list[tuple[Any, ...]] = [
    ("POST", "/sites", {"name": "Audit HQ", "timezone": "Europe/Berlin"}, "create", "site"),
    ("PATCH", "/sites/{site}", {"hours": "Mon-Fri 8-18"}, "update", "site"),
    (
        "POST",
        "/users",
        {"username": "audited", "role": "tier1", "password": PASSWORD},
        "create",
        "user",
    ),
    ("PATCH", "/users/{user}", {"role": "tier2"}, "update", "user"),
    ("POST", "/teams", {"name": "Desktop Support", "member_ids": []}, "create", "team"),
    ("PATCH", "/teams/{team}", {"member_ids": ["{user}"], "lead_id": "{user}"}, "update", "team"),
    (
        "POST",
        "/tickets",
        {"title": "Audited printer", "impact": 2, "urgency": 2},
        "create",
        "ticket",
    ),
    ("PATCH", "/tickets/{ticket}", {"title": "Audited printer, tray 2"}, "update", "ticket"),
    ("POST", "/tickets/{ticket}/comments", {"body": "looking into it"}, "comment", "ticket"),
    (
        "POST",
        "/tickets/{ticket}/assign",
        {"team_id": "{team}", "assignee_id": "{user}"},
        "assign",
        "ticket",
    ),
    ("POST", "/tickets/{ticket}/transition", {"state": "in_progress"}, "transition", "ticket"),
    (
        "POST",
        "/tickets/{ticket}/escalate",
        {"team_id": "{team}", "reason": "needs tier 2"},
        "escalate",
        "ticket",
    ),
    (
        "POST",
        "/kb",
        {"title": "Clear a jammed tray", "body": "Open tray 2."},
        "create",
        "kb_article",
    ),
    ("PATCH", "/kb/{kb_article}", {"body": "Open tray 2, pull gently."}, "update", "kb_article"),
    ("POST", "/kb/{kb_article}/publish", None, "publish", "kb_article"),
    ("POST", "/kb/{kb_article}/unpublish", None, "unpublish", "kb_article"),
    (
        "POST",
        "/tickets/{ticket}/transition",
        {"state": "resolved", "resolution": "Cleared the jam"},
        "transition",
        "ticket",
    ),
    ("POST", "/tickets/{ticket}/kb-draft", None, "create", "kb_article"),
    ("POST", "/tickets/{ticket}/survey", {"rating": 4}, "answer_survey", "ticket"),
    ("POST", "/categories", {"name": "Printing"}, "create", "category"),
    ("PATCH", "/categories/{category}", {"name": "Printers"}, "update", "category"),
    (
        "POST",
        "/calendars",
        {
            "name": "Office hours",
            "timezone": "Europe/Berlin",
            "hours": {"mon": [["08:00", "17:00"]]},
            "holidays": ["2026-12-25"],
        },
        "create",
        "calendar",
    ),
    ("PATCH", "/calendars/{calendar}", {"holidays": ["2026-12-26"]}, "update", "calendar"),
    (
        "POST",
        "/sla-policies",
        {
            "name": "P3 office hours",
            "priority": 3,
            "own_within_s": 3600,
            "resolve_within_s": 28800,
            "calendar_id": "{calendar}",
            "category_id": "{category}",
            "breach_actions": ["notify"],
        },
        "create",
        "sla_policy",
    ),
    ("PATCH", "/sla-policies/{sla_policy}", {"warn_at_percent": 80}, "update", "sla_policy"),
    (
        "POST",
        "/routing-rules",
        {"team_id": "{team}", "category_id": "{category}", "keywords": ["printer"]},
        "create",
        "routing_rule",
    ),
    ("PATCH", "/routing-rules/{routing_rule}", {"position": 10}, "update", "routing_rule"),
    (
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]},
        "create",
        "webhook",
    ),
    ("PATCH", "/webhooks/{webhook}", {"active": False}, "update", "webhook"),
    ("DELETE", "/webhooks/{webhook}", None, "delete", "webhook"),
    ("DELETE", "/routing-rules/{routing_rule}", None, "delete", "routing_rule"),
    ("DELETE", "/sla-policies/{sla_policy}", None, "delete", "sla_policy"),
    ("DELETE", "/calendars/{calendar}", None, "delete", "calendar"),
    ("DELETE", "/categories/{category}", None, "delete", "category"),
    ("POST", "/tokens", {"name": "audited token", "user_id": "{user}"}, "create", "token"),
    ("DELETE", "/tokens/{token}", None, "revoke", "token"),
    (
        "POST",
        "/enrollment-tokens",
        {"site_id": "{site}", "tags": ["audit"]},
        "create",
        "enrollment_token",
    ),
    (
        "PATCH",
        "/endpoints/{endpoint}",
        {"tags": ["audited"], "site_id": None},
        "update",
        "endpoint",
    ),
    (
        "POST",
        "/runs",
        {"endpoint_id": "{endpoint}", "action": "file.stat", "params": {"path": "/etc/hosts"}},
        "request",
        "run",
    ),
    ("POST", "/runs/{run}/cancel", None, "cancel", "run"),
    (
        "POST",
        "/runs",
        {"endpoint_id": "{endpoint}", "action": "system.reboot"},
        "request",
        "run",
        "tier1",
    ),
    ("POST", "/runs/{run}/approve", None, "approve", "run"),
    (
        "POST",
        "/runs",
        {"endpoint_id": "{endpoint}", "action": "system.reboot"},
        "request",
        "run",
        "tier1",
    ),
    ("POST", "/runs/{run}/deny", None, "deny", "run"),
    (
        "POST",
        "/checks",
        {
            "name": "audited spooler",
            "check": "service.running",
            "params": {"name": "cups"},
            "endpoint_ids": ["{endpoint}"],
            "interval_s": 60,
        },
        "create",
        "check",
    ),
    ("PATCH", "/checks/{check}", {"interval_s": 120}, "update", "check"),
    (
        "POST",
        "/incidents/{check}/{endpoint}/silence",
        {"until": IN_AN_HOUR, "reason": "known noise"},
        "silence",
        "check_state",
    ),
    ("POST", "/incidents/{check}/{endpoint}/acknowledge", None, "acknowledge", "check_state"),
    (
        "POST",
        "/maintenance-windows",
        {"endpoint_id": "{endpoint}", "starts_at": NOW, "ends_at": IN_AN_HOUR, "reason": "patch"},
        "create",
        "maintenance_window",
    ),
    ("DELETE", "/maintenance-windows/{maintenance_window}", None, "close", "maintenance_window"),
    ("PUT", "/automation", {"paused": True, "reason": "audit walk"}, "pause", "automation"),
    (
        "POST",
        "/playbook-runs",
        {"playbook": "slow-machine", "endpoint_id": "{endpoint}", "dry_run": True},
        "request",
        "playbook_run",
    ),
    ("POST", "/playbook-runs/{playbook_run}/cancel", None, "cancel", "playbook_run"),
    ("DELETE", "/checks/{check}", None, "delete", "check"),
    ("POST", "/endpoints/{endpoint}/revoke", None, "revoke", "endpoint"),
    # An agentless endpoint whose key is given (nothing listens on port 9: the enrolment's
    # connectivity test fails fast, and is reported, not refused).
    ("POST", "/endpoints", AGENTLESS, "enroll", "endpoint"),
    ("POST", "/endpoints/{endpoint}/test", None, "test", "endpoint"),
    (
        "POST",
        "/endpoints/{endpoint}/trust-host-key",
        {"host_key": AGENTLESS_KEY},
        "trust",
        "endpoint",
    ),
    ("PATCH", "/me", {"full_name": "The Admin"}, "update", "user"),
    ("DELETE", "/teams/{team}", None, "delete", "team"),
    ("DELETE", "/users/{user}", None, "delete", "user"),
    ("POST", "/auth/login", {"username": "admin2", "password": PASSWORD}, "login", "user"),
    ("POST", "/auth/logout", None, "logout", "user"),
    ("DELETE", "/sites/{site}", None, "delete", "site"),
]


# These need a computer recognised by the address the request comes from (never loopback):
# test_portal.py sends them from a real non-loopback address and checks their events.
WALKED_ELSEWHERE = {
    ("POST", "/self-service/fixes/{}"),
    ("POST", "/self-service/tickets/{}/this-machine"),
}


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        return ids[whole.group(1)] if whole else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def walk(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory, database: str
) -> list[dict[str, Any]]:
    """Run every step; return, per step, the events recorded under its request ID."""
    ids: dict[str, Any] = {}
    results = []
    with controller.client() as admin:
        admin.post("/users", json={"username": "admin2", "role": "admin", "password": PASSWORD})
        tier1_id = admin.post("/users", json={"username": "walker", "role": "tier1"}).json()["id"]
        tier1 = controller.client(
            admin.post("/tokens", json={"name": "w", "user_id": tier1_id}).json()["token"]
        )
        browser = httpx.Client(base_url=controller.url + "/api/v1")
        csrf = ""
        for method, path, body, action, kind, *who in STEPS:
            client = tier1 if who == ["tier1"] else admin
            if path == "/endpoints/{endpoint}" and "endpoint" not in ids:
                agent = AgentProcess(Path(tmp_path_factory.mktemp("audit")) / "agent")
                ids["endpoint"] = agent.enroll(
                    controller, controller.enrollment_token(site_id=ids["site"])
                )
            if path.startswith("/incidents/") and "incident" not in ids:
                # A failing check needs an agent's result; the walk's agent does not run.
                ids["incident"] = query(
                    database,
                    "INSERT INTO check_states (check_id, endpoint_id, status, since, fixes,"
                    " escalated) VALUES ($1, $2, 'fail', $3, '[]', false) RETURNING check_id",
                    ids["check"],
                    ids["endpoint"],
                    dt.datetime.now(dt.UTC),
                )
            request_id = f"audit-{uuid.uuid4().hex[:10]}"
            headers = {"X-Request-ID": request_id}
            url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
            if path.startswith("/auth/"):
                response = browser.request(
                    method,
                    url,
                    json=body,
                    headers={**headers, "Origin": controller.url, "X-CSRF-Token": csrf},
                )
                csrf = (
                    response.json().get("csrf_token", csrf) if response.status_code == 200 else csrf
                )
            else:
                response = client.request(method, url, json=_fill(body, ids), headers=headers)
            assert response.status_code < 300, (method, path, response.status_code, response.text)
            assert response.headers["x-request-id"] == request_id
            created = response.json() if response.status_code == 201 else {}
            if "id" in created:
                ids[kind] = created["id"]
            elif created.get("items"):  # POST /runs and /playbook-runs answer with a list
                ids[kind] = created["items"][0]["id"]
            events = admin.get("/audit", params={"request_id": request_id}).json()["items"]
            results.append(
                {"step": (method, path), "action": action, "kind": kind, "events": events}
            )
        browser.close()
        tier1.close()
    return results


def test_every_write_route_is_walked(controller: ControllerProcess) -> None:
    spec = httpx.get(controller.url + "/api/v1/openapi.json").json()
    writes = {
        (m.upper(), p.removeprefix("/api/v1"))
        for p, ops in spec["paths"].items()
        for m in ops
        if m in {"post", "patch", "put", "delete"}
    }
    walked = {(step[0], re.sub(r"\{\w+\}", "{}", step[1])) for step in STEPS} | WALKED_ELSEWHERE
    assert {(m, re.sub(r"\{\w+\}", "{}", p)) for m, p in writes} == walked


def test_each_write_left_exactly_one_event_with_before_and_after(
    walk: list[dict[str, Any]],
) -> None:
    for result in walk:
        events = result["events"]
        assert len(events) == 1, (result["step"], events)
        event = events[0]
        assert (event["action"], event["object_type"]) == (result["action"], result["kind"]), (
            result["step"]
        )
        assert event["actor"] in ("admin", "admin2", "walker")
        if event["action"] == "create":
            assert event["before"] is None and event["after"], result["step"]
        elif event["action"] in ("update", "revoke"):
            assert event["before"] is not None and event["after"] is not None, result["step"]
            assert event["before"] != event["after"], result["step"]
        elif event["action"] == "delete":
            assert event["before"] and event["after"] is None, result["step"]


def test_secrets_never_reach_the_trail(walk: list[dict[str, Any]], database: str) -> None:
    trail = " ".join(str(r["events"]) for r in walk)
    assert PASSWORD not in trail
    assert "argon2" not in trail and "token_hash" not in trail
    assert "dsk_" not in trail and "dse_" not in trail
    (user_update,) = [r for r in walk if r["step"] == ("PATCH", "/users/{user}")]
    assert user_update["events"][0]["before"]["role"] == "tier1"
    assert user_update["events"][0]["after"]["role"] == "tier2"


def test_filters_by_actor_object_and_time(
    controller: ControllerProcess, walk: list[dict[str, Any]]
) -> None:
    site_id = next(r for r in walk if r["kind"] == "site")["events"][0]["object_id"]
    with controller.client() as admin:
        site_events = admin.get(
            "/audit", params={"object_type": "site", "object_id": site_id}
        ).json()["items"]
        assert [e["action"] for e in site_events] == ["delete", "update", "create"]
        by_admin2 = admin.get("/audit", params={"actor": "admin2"}).json()["items"]
        assert {e["action"] for e in by_admin2} == {"login", "logout"}
        first_at = site_events[-1]["at"]
        later = admin.get(
            "/audit", params={"since": first_at, "object_type": "site", "object_id": site_id}
        )
        assert len(later.json()["items"]) == 3
        assert (
            admin.get(
                "/audit", params={"until": first_at, "object_id": site_id, "object_type": "site"}
            ).json()["items"]
            == []
        )
        page = admin.get("/audit", params={"limit": 2}).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        rest = admin.get("/audit", params={"limit": 2, "cursor": page["next_cursor"]}).json()
        assert rest["items"][0]["id"] < page["items"][-1]["id"]


def test_the_trail_is_append_only_in_the_database(
    database: str, walk: list[dict[str, Any]]
) -> None:
    for statement in ("UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"):
            query(database, statement)
    assert (
        query(database, "SELECT COUNT(*) FROM audit_events WHERE actor = 'someone else'")[0][0] == 0
    )


def test_an_unusable_request_id_is_replaced(controller: ControllerProcess) -> None:
    with controller.client() as admin:
        response = admin.get("/me", headers={"X-Request-ID": "bad id with spaces; and more"})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
