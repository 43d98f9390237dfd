"""The desk report over the API and the dashboard in a real Chromium.

SQLite only, as for the other console suites: the report's SQL is tested on both
backends in tests/unit/test_reports.py, and the browser's event loop would stand in the
way of PostgreSQL's test databases.

Tickets go through the API (escalation, reassignment, resolution); then their timestamps
are set in the database, so the figures are known exactly: three resolved tickets of
2 h, 28 h and 1 h (mean 10 h 20 min, median 2 h), two of them with a resolve target
(one met, one breached: 50 %), two resolved at first contact (66.7 %), one still open.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import (
    sign_in,
    sqlite_only,  # noqa: F401  (the `database` fixture: SQLite alone)
)
from processes import AgentProcess, ControllerProcess
from sql import query

PASSWORD = "correct horse battery staple"
HOUR = dt.timedelta(hours=1)


def _stamp(moment: dt.datetime) -> str:
    """A UTC instant as the controller stores it on SQLite."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def _token(admin: httpx.Client, username: str, role: str, **extra: Any) -> str:
    body = {"username": username, "role": role, "password": PASSWORD, "full_name": username}
    user = _ok(admin.post("/users", json={**body, **extra}))
    return str(_ok(admin.post("/tokens", json={"name": "report", "user_id": user["id"]}))["token"])


def _ticket(admin: httpx.Client, title: str, **body: Any) -> int:
    return int(_ok(admin.post("/tickets", json={"title": title, "channel": "phone", **body}))["id"])


def _resolve(admin: httpx.Client, ticket_id: int) -> None:
    _ok(
        admin.post(
            f"/tickets/{ticket_id}/transition", json={"state": "resolved", "resolution": "ok"}
        )
    )


@pytest.fixture(scope="module")
def desk(
    controller: ControllerProcess, database: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    with controller.client() as admin:
        near = _ok(admin.post("/sites", json={"name": "Near"}))["id"]
        far = _ok(admin.post("/sites", json={"name": "Far"}))["id"]
        service_desk = _ok(admin.post("/teams", json={"name": "Service Desk"}))["id"]
        network = _ok(admin.post("/teams", json={"name": "Network"}))["id"]
        policy = {"name": "P3", "priority": 3, "own_within_s": 3600, "resolve_within_s": 14400}
        _ok(admin.post("/sla-policies", json=policy))
        p3 = {"impact": 2, "urgency": 2, "team_id": service_desk}
        quick = _ticket(admin, "Printer jam", site_id=near, **p3)
        escalated = _ticket(admin, "VPN drops", site_id=far, **p3)
        body = {"kind": "functional", "team_id": network, "reason": "routing issue"}
        _ok(admin.post(f"/tickets/{escalated}/escalate", json=body))
        planning = _ticket(admin, "New starter laptop", site_id=far, team_id=service_desk)
        _ticket(admin, "Screen flickers", site_id=far, **p3)
        for ticket_id in (quick, escalated, planning):
            _resolve(admin, ticket_id)
        tokens = {
            "usa": _token(admin, "usa-near", "usa", site_ids=[near]),
            "requester": _token(admin, "rita", "requester"),
        }
        _token(admin, "dana", "tier2")
    for ticket_id, created, resolved in (
        (quick, now - 3 * HOUR, now - HOUR),
        (escalated, now - 30 * HOUR, now - 2 * HOUR),
        (planning, now - 5 * HOUR, now - 4 * HOUR),
    ):
        query(
            database,
            "UPDATE tickets SET created_at = $1, resolved_at = $2 WHERE id = $3",
            _stamp(created),
            _stamp(resolved),
            ticket_id,
        )
        # The resolve target: four hours after creation, where the policy applies.
        query(
            database,
            "UPDATE tickets SET resolve_due_at = $1 WHERE id = $2 AND resolve_due_at IS NOT NULL",
            _stamp(created + 4 * HOUR),
            ticket_id,
        )
    agent = AgentProcess(Path(tmp_path_factory.mktemp("dashboard")) / "agent")
    endpoint_id = agent.enroll(controller, controller.enrollment_token(site_id=far))
    with controller.client() as admin:
        check = _ok(admin.post("/checks", json={
            "name": "spooler", "check": "disk.free",
            "endpoint_ids": [endpoint_id], "interval_s": 60,
        }))  # fmt: skip
    query(
        database,
        "INSERT INTO check_states (check_id, endpoint_id, status, since, fixes, escalated)"
        " VALUES ($1, $2, 'fail', $3, '[]', false)",
        check["id"],
        endpoint_id,
        _stamp(now - HOUR),
    )
    return {"endpoint_id": endpoint_id, "check_id": check["id"], "tokens": tokens}


def _report(controller: ControllerProcess, token: str | None = None, days: int = 7) -> Any:
    with controller.client(token) if token else controller.client() as client:
        return _ok(client.get("/reports/desk", params={"days": days}))


def test_the_report_counts_what_happened(controller: ControllerProcess, desk: Any) -> None:
    report = _report(controller)

    assert report["days"] == 7 and len(report["backlog"]["per_day"]) == 7
    backlog = report["backlog"]
    assert backlog["open_total"] == 1 and backlog["by_priority"]["3"] == 1
    assert sum(d["created"] for d in backlog["per_day"]) == 4
    assert sum(d["resolved"] for d in backlog["per_day"]) == 3
    assert backlog["per_day"][-1]["open_at_end"] == 1
    resolution = report["resolution"]
    assert resolution["resolved"] == 3
    assert (resolution["sla_measured"], resolution["sla_met"], resolution["sla_breached"]) == (
        2,
        1,
        1,
    )
    assert resolution["sla_compliance_percent"] == 50.0
    assert resolution["mttr_mean_s"] == 31 * 3600 // 3 and resolution["mttr_median_s"] == 7200
    assert resolution["first_contact"] == 2 and resolution["fcr_percent"] == 66.7
    assert report["checks_failing"]["count"] == 1
    (failing,) = report["checks_failing"]["items"]
    assert failing["endpoint_id"] == desk["endpoint_id"] and failing["check_name"] == "spooler"
    assert report["agents"] == {"total": 1, "offline": 1}


def test_a_site_administrator_gets_their_sites_figures(
    controller: ControllerProcess, desk: Any
) -> None:
    report = _report(controller, desk["tokens"]["usa"])

    assert report["backlog"]["open_total"] == 0
    assert report["resolution"]["resolved"] == 1
    assert report["resolution"]["sla_compliance_percent"] == 100.0
    assert report["checks_failing"] == {"count": 0, "items": []}
    assert report["agents"] == {"total": 0, "offline": 0}


def test_requesters_may_not_read_reports_and_windows_are_checked(
    controller: ControllerProcess, desk: Any
) -> None:
    with controller.client(desk["tokens"]["requester"]) as requester:
        assert requester.get("/reports/desk").status_code == 403
    with controller.client() as admin:
        refused = admin.get("/reports/desk", params={"days": 0})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "days"]


def test_the_dashboard_shows_the_figures(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    sign_in(page, controller.url, "dana", PASSWORD)
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/dashboard")

    def tile(name: str) -> str:
        return str(page.get_by_test_id(f"tile-{name}").inner_text())

    assert "1" in tile("open").split("\n")
    assert "50.0 %" in tile("sla") and "1 of 2 met, 1 breached" in tile("sla")
    assert "10 h 20 min" in tile("mttr") and "median 2 h 0 min" in tile("mttr")
    assert "66.7 %" in tile("fcr") and "2 of 3 resolved" in tile("fcr")
    assert "1 of 1" in tile("agents")
    link = page.get_by_test_id("failing-checks").get_by_role("link")
    assert link.get_attribute("href") == f"/endpoints/{desk['endpoint_id']}"
    # Each chart is an image with a text alternative, its numbers in a table as well.
    priorities = page.get_by_role("img", name="Open tickets")
    assert "P3 medium: 1" in priorities.locator("desc").text_content()
    assert page.get_by_role("table", name="Open tickets by priority").count() == 1
    assert page.get_by_role("img", name="50.0 % met their resolve target").count() == 1
    assert page.get_by_role("img", name="66.7 % resolved at first contact").count() == 1
    assert (
        page.get_by_role("img", name="Tickets created and resolved per day, 30 days").count() == 1
    )

    page.get_by_label("Window", exact=True).select_option("7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/dashboard?days=7")
    assert page.get_by_role("img", name="Tickets created and resolved per day, 7 days").count() == 1
    assert "50.0 %" in tile("sla") and "10 h 20 min" in tile("mttr")

    page.goto(f"{controller.url}/dashboard?days=0")
    assert page.locator(".alert.error").inner_text().startswith("days:")
