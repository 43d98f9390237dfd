"""The desk's configuration through a real controller: categories, calendars, SLA policies,
routing rules and webhooks; who may read and write them; bad input changes nothing."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from processes import ControllerProcess
from sql import query

TABLES = (
    "categories",
    "business_calendars",
    "sla_policies",
    "routing_rules",
    "webhooks",
    "audit_events",
)
WEEK = {day: [["08:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
_unique = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}-{next(_unique)}"


def _counts(database: str) -> dict[str, int]:
    return {t: query(database, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def _all(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    """Every item, a page of two at a time."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _ok(client.get(path, params={"limit": 2, **({"cursor": cursor} if cursor else {})}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _field(response: httpx.Response) -> str:
    """The field a 422 names: hours.tue[1], or a request-validation location."""
    return ".".join(str(part) for part in response.json()["detail"][0]["loc"][1:])


def test_categories_round_trip(controller: ControllerProcess, database: str) -> None:
    top, other = _name("Software"), _name("Hardware")
    with controller.client() as admin:
        root = _ok(admin.post("/categories", json={"name": top}), 201)
        mail = _ok(admin.post("/categories", json={"name": "E-mail", "parent_id": root["id"]}), 201)
        leaf = _ok(
            admin.post("/categories", json={"name": "Outlook", "parent_id": mail["id"]}), 201
        )
        assert (root["path"], mail["path"], leaf["path"]) == (
            top,
            f"{top}/E-mail",
            f"{top}/E-mail/Outlook",
        )
        renamed = _ok(admin.patch(f"/categories/{mail['id']}", json={"name": "Mail"}))
        assert renamed["path"] == f"{top}/Mail"
        assert _ok(admin.get(f"/categories/{leaf['id']}"))["path"] == f"{top}/Mail/Outlook"

        elsewhere = _ok(admin.post("/categories", json={"name": other}), 201)
        _ok(admin.patch(f"/categories/{mail['id']}", json={"parent_id": elsewhere["id"]}))
        assert _ok(admin.get(f"/categories/{leaf['id']}"))["path"] == f"{other}/Mail/Outlook"

        before = _counts(database)
        cycle = admin.patch(f"/categories/{elsewhere['id']}", json={"parent_id": leaf["id"]})
        assert cycle.status_code == 422 and _field(cycle) == "parent_id", cycle.text
        busy = admin.delete(f"/categories/{elsewhere['id']}")
        assert busy.status_code == 409 and "subcategories" in busy.text, busy.text
        assert _counts(database) == before

        listed = {c["id"]: c["path"] for c in _all(admin, "/categories")}
        assert listed[leaf["id"]] == f"{other}/Mail/Outlook"
        for category in (leaf, mail, elsewhere, root):
            _ok(admin.delete(f"/categories/{category['id']}"), 204)
        assert admin.get(f"/categories/{root['id']}").status_code == 404


def test_calendars_round_trip(controller: ControllerProcess) -> None:
    with controller.client() as admin:
        body = {"name": _name("Paris"), "timezone": "Europe/Paris", "hours": WEEK}
        calendar = _ok(admin.post("/calendars", json=body), 201)
        assert calendar["holidays"] == [] and calendar["hours"] == WEEK
        changed = _ok(
            admin.patch(f"/calendars/{calendar['id']}", json={"holidays": ["2026-12-25"]})
        )
        assert changed["holidays"] == ["2026-12-25"] and changed["timezone"] == "Europe/Paris"
        assert _ok(admin.get(f"/calendars/{calendar['id']}")) == changed
        assert changed in _all(admin, "/calendars")
        twice = admin.post("/calendars", json=body)
        assert twice.status_code == 409 and "exists" in twice.text
        _ok(admin.delete(f"/calendars/{calendar['id']}"), 204)
        assert admin.get(f"/calendars/{calendar['id']}").status_code == 404


def test_sla_policies_round_trip(controller: ControllerProcess) -> None:
    with controller.client() as admin:
        category = _ok(admin.post("/categories", json={"name": _name("sla")}), 201)
        calendar = _ok(admin.post("/calendars", json={"name": _name("c"), "hours": WEEK}), 201)
        body = {
            "name": _name("P1"),
            "priority": 1,
            "category_id": category["id"],
            "own_within_s": 900,
            "resolve_within_s": 4 * 3600,
            "calendar_id": calendar["id"],
            "breach_actions": ["notify", "escalate"],
        }
        policy = _ok(admin.post("/sla-policies", json=body), 201)
        assert policy["warn_at_percent"] == 75 and policy["site_id"] is None
        same_scope = admin.post("/sla-policies", json={**body, "name": _name("P1 again")})
        assert same_scope.status_code == 409 and policy["name"] in same_scope.text
        changed = _ok(
            admin.patch(
                f"/sla-policies/{policy['id']}", json={"calendar_id": None, "warn_at_percent": 50}
            )
        )
        assert (changed["calendar_id"], changed["warn_at_percent"]) == (None, 50)
        assert _ok(admin.get(f"/sla-policies/{policy['id']}")) == changed
        assert changed in _all(admin, "/sla-policies")
        busy = admin.delete(f"/categories/{category['id']}")
        assert busy.status_code == 409 and "SLA policies" in busy.text
        _ok(admin.delete(f"/sla-policies/{policy['id']}"), 204)
        assert admin.get(f"/sla-policies/{policy['id']}").status_code == 404
        _ok(admin.delete(f"/categories/{category['id']}"), 204)


def test_routing_rules_round_trip_in_order(controller: ControllerProcess) -> None:
    with controller.client() as admin:
        team = _ok(admin.post("/teams", json={"name": _name("Network")}), 201)
        ids = [
            _ok(
                admin.post(
                    "/routing-rules",
                    json={"team_id": team["id"], "position": position, "keywords": ["vpn"]},
                ),
                201,
            )["id"]
            for position in (50, 5, 50)
        ]
        rules = _all(admin, "/routing-rules")
        assert [(r["position"], r["id"]) for r in rules] == sorted(
            (r["position"], r["id"]) for r in rules
        )
        mine = [r["id"] for r in rules if r["id"] in ids]
        assert mine == [ids[1], ids[0], ids[2]]
        moved = _ok(admin.patch(f"/routing-rules/{ids[2]}", json={"position": 1}))
        assert moved["position"] == 1 and moved["keywords"] == ["vpn"]
        assert _ok(admin.get(f"/routing-rules/{ids[2]}")) == moved
        for rule_id in ids:
            _ok(admin.delete(f"/routing-rules/{rule_id}"), 204)
        assert admin.get(f"/routing-rules/{ids[0]}").status_code == 404


def test_webhook_secret_is_shown_once(controller: ControllerProcess) -> None:
    with controller.client() as admin:
        created = _ok(
            admin.post("/webhooks", json={"url": "https://hooks.example/desk", "events": []}), 201
        )
        secret = created["secret"]
        assert len(secret) >= 32 and created["secret_set"] is True
        chosen = _ok(
            admin.post(
                "/webhooks",
                json={"url": "http://127.0.0.1:9/x", "secret": "k" * 20, "active": False},
            ),
            201,
        )
        assert chosen["secret"] == "k" * 20
        patched = _ok(admin.patch(f"/webhooks/{created['id']}", json={"secret": "r" * 24}))
        reads = [
            admin.get(f"/webhooks/{created['id']}"),
            admin.get("/webhooks", params={"limit": 1000}),
            admin.get("/audit", params={"object_type": "webhook", "limit": 1000}),
        ]
        for response in reads:
            assert response.status_code == 200, response.text
            for value in (secret, "k" * 20, "r" * 24):
                assert value not in response.text
        assert "secret" not in patched and patched["secret_set"] is True
        listed = {w["id"]: w for w in reads[1].json()["items"]}
        assert "secret" not in listed[created["id"]] and listed[chosen["id"]]["active"] is False
        for webhook in (created, chosen):
            _ok(admin.delete(f"/webhooks/{webhook['id']}"), 204)


def test_who_may_read_and_write(controller: ControllerProcess, role_tokens: dict[str, str]) -> None:
    with controller.client() as admin:
        team = _ok(admin.post("/teams", json={"name": _name("perm")}), 201)
        made = {
            "/categories": _ok(admin.post("/categories", json={"name": _name("perm")}), 201),
            "/calendars": _ok(
                admin.post("/calendars", json={"name": _name("perm"), "hours": WEEK}), 201
            ),
            "/sla-policies": _ok(
                admin.post(
                    "/sla-policies",
                    json={
                        "name": _name("perm"),
                        "priority": 4,
                        "own_within_s": 60,
                        "resolve_within_s": 60,
                    },
                ),
                201,
            ),
            "/routing-rules": _ok(admin.post("/routing-rules", json={"team_id": team["id"]}), 201),
            "/webhooks": _ok(admin.post("/webhooks", json={"url": "https://h.example/"}), 201),
        }
    readers = {
        "/categories": {"requester", "tier1", "auditor"},
        "/calendars": {"tier1", "auditor"},
        "/sla-policies": {"tier1", "auditor"},
        "/routing-rules": {"tier1", "auditor"},
        "/webhooks": set(),
    }
    for role in ("requester", "tier1", "tier2", "usa", "auditor"):
        with controller.client(role_tokens[role]) as client:
            for path, row in made.items():
                for method, url in (
                    ("POST", path),
                    ("PATCH", f"{path}/{row['id']}"),
                    ("DELETE", f"{path}/{row['id']}"),
                ):
                    response = client.request(method, url, json={} if method != "DELETE" else None)
                    assert response.status_code == 403, (role, method, url, response.text)
                if role in readers[path]:
                    _ok(client.get(path))
                    _ok(client.get(f"{path}/{row['id']}"))
                elif role in ("requester", "tier1", "auditor"):
                    assert client.get(path).status_code == 403, (role, path)
                    assert client.get(f"{path}/{row['id']}").status_code == 403, (role, path)
    with controller.client() as admin:
        for path, row in made.items():
            _ok(admin.delete(f"{path}/{row['id']}"), 204)


BAD_INPUT: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/categories", {"name": "a/b"}, "name"),
    ("POST", "/categories", {"name": ""}, "name"),
    ("POST", "/categories", {"name": "x", "parent_id": 424242}, "parent_id"),
    ("PATCH", "/categories/{category}", {"name": None}, "name"),
    ("PATCH", "/categories/{category}", {"parent_id": "{category}"}, "parent_id"),
    (
        "POST",
        "/calendars",
        {"name": "bad", "hours": {"tue": [["08:00", "12:00"], ["11:00", "13:00"]]}},
        "hours.tue[1]",
    ),
    ("POST", "/calendars", {"name": "bad", "hours": {"wed": [["9am", "5pm"]]}}, "hours.wed[0]"),
    ("POST", "/calendars", {"name": "bad", "hours": {"sunday": []}}, "hours.sunday"),
    ("POST", "/calendars", {"name": "bad", "hours": WEEK, "timezone": "Mars/Base"}, "timezone"),
    (
        "POST",
        "/calendars",
        {"name": "bad", "hours": WEEK, "holidays": ["2026-02-30"]},
        "holidays[0]",
    ),
    ("PATCH", "/calendars/{calendar}", {"hours": {"fri": [["18:00", "09:00"]]}}, "hours.fri[0]"),
    ("POST", "/sla-policies", {"name": "bad", "priority": 9}, "priority"),
    (
        "POST",
        "/sla-policies",
        {"name": "bad", "priority": 1, "own_within_s": 600, "resolve_within_s": 60},
        "resolve_within_s",
    ),
    (
        "POST",
        "/sla-policies",
        {"name": "bad", "priority": 1, "own_within_s": 6, "resolve_within_s": 6, "site_id": 4242},
        "site_id",
    ),
    (
        "POST",
        "/sla-policies",
        {
            "name": "bad",
            "priority": 1,
            "own_within_s": 6,
            "resolve_within_s": 6,
            "breach_actions": ["notify", "panic"],
        },
        "breach_actions[1]",
    ),
    ("PATCH", "/sla-policies/{policy}", {"warn_at_percent": 0}, "warn_at_percent"),
    ("PATCH", "/sla-policies/{policy}", {"calendar_id": 424242}, "calendar_id"),
    ("POST", "/routing-rules", {"team_id": 424242}, "team_id"),
    ("POST", "/routing-rules", {"team_id": "{team}", "keywords": ["wi-fi"]}, "keywords[0]"),
    ("POST", "/routing-rules", {"team_id": "{team}", "keywords": ["w"] * 21}, "keywords"),
    ("PATCH", "/routing-rules/{rule}", {"team_id": None}, "team_id"),
    ("POST", "/webhooks", {"url": "file:///etc/passwd"}, "url"),
    ("POST", "/webhooks", {"url": "https://h.example/", "secret": "tooshort"}, "secret"),
    ("POST", "/webhooks", {"url": "https://h.example/", "events": ["ticket.x"]}, "events[0]"),
    ("PATCH", "/webhooks/{webhook}", {"url": "gopher://h.example/"}, "url"),
]


@pytest.fixture(scope="module")
def existing(controller: ControllerProcess) -> dict[str, int]:
    """One object of each kind, for the PATCH cases to aim at."""
    with controller.client() as admin:
        team = _ok(admin.post("/teams", json={"name": _name("bad-input")}), 201)["id"]
        calendar = _ok(admin.post("/calendars", json={"name": _name("b"), "hours": WEEK}), 201)
        policy = {"name": _name("b"), "priority": 5, "own_within_s": 6, "resolve_within_s": 6}
        return {
            "team": team,
            "category": _ok(admin.post("/categories", json={"name": _name("b")}), 201)["id"],
            "calendar": calendar["id"],
            "policy": _ok(admin.post("/sla-policies", json=policy), 201)["id"],
            "rule": _ok(admin.post("/routing-rules", json={"team_id": team}), 201)["id"],
            "webhook": _ok(admin.post("/webhooks", json={"url": "https://h.example/"}), 201)["id"],
        }


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_INPUT)
def test_bad_input_names_the_field_and_changes_nothing(
    controller: ControllerProcess,
    database: str,
    existing: dict[str, int],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    url = path.format(**existing)
    before = _counts(database)
    snapshot = None
    if method == "PATCH":
        with controller.client() as admin:
            snapshot = _ok(admin.get(url))
    with controller.client() as admin:
        response = admin.request(method, url, json=_fill(body, existing))
        assert response.status_code == 422, response.text
        assert _field(response) == field, response.text
        if snapshot is not None:
            assert _ok(admin.get(url)) == snapshot
    assert _counts(database) == before
