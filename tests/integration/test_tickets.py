"""The life of a ticket through the REST API of a real controller, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from processes import AgentProcess, ControllerProcess, wait_for

_names = itertools.count()


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def admin(controller: ControllerProcess) -> Iterator[httpx.Client]:
    with controller.client() as client:
        yield client


@pytest.fixture(scope="module")
def people(admin: httpx.Client, role_tokens: dict[str, str]) -> dict[str, Any]:
    """A requester and two tier-1 analysts in a round-robin Service Desk, a tier-2 team with
    a lead, and a vendor."""
    found: dict[str, Any] = {"tokens": role_tokens}
    for role in ("requester", "tier1", "tier2"):
        me = admin.get("/me", headers={"Authorization": f"Bearer {role_tokens[role]}"})
        found[role] = _ok(me)["user"]
    second = _ok(
        admin.post("/users", json={"username": f"t1b-{next(_names)}", "role": "tier1"}), 201
    )
    found["tier1b"] = second
    found["desk"] = _ok(
        admin.post(
            "/teams",
            json={
                "name": f"Service Desk {next(_names)}",
                "assignment": "round_robin",
                "member_ids": [found["tier1"]["id"], second["id"]],
            },
        ),
        201,
    )
    found["tier2_team"] = _ok(
        admin.post(
            "/teams",
            json={
                "name": f"Desktop Support {next(_names)}",
                "assignment": "manual",
                "lead_id": found["tier2"]["id"],
                "member_ids": [found["tier2"]["id"]],
            },
        ),
        201,
    )
    found["vendor"] = _ok(
        admin.post(
            "/teams",
            json={
                "name": f"Acme Printers {next(_names)}",
                "is_vendor": True,
                "vendor_contact": "support@acme.example, +1 555 0100",
            },
        ),
        201,
    )
    return found


def _as(controller: ControllerProcess, people: dict[str, Any], role: str) -> httpx.Client:
    return controller.client(people["tokens"][role])


def test_priority_comes_from_impact_and_urgency(
    admin: httpx.Client, people: dict[str, Any]
) -> None:
    expected = {(1, 1): 1, (1, 2): 2, (2, 1): 2, (1, 3): 3, (2, 2): 3, (3, 1): 3}
    expected |= {(2, 3): 4, (3, 2): 4, (3, 3): 5}
    for (impact, urgency), priority in expected.items():
        ticket = _ok(
            admin.post(
                "/tickets",
                json={"title": "p", "impact": impact, "urgency": urgency, "channel": "phone"},
            ),
            201,
        )
        assert ticket["priority"] == priority, (impact, urgency)
    changed = _ok(admin.patch(f"/tickets/{ticket['id']}", json={"impact": 1, "urgency": 1}))
    assert changed["priority"] == 1


def test_the_whole_life_of_a_ticket(
    controller: ControllerProcess, admin: httpx.Client, people: dict[str, Any]
) -> None:
    with _as(controller, people, "requester") as requester:
        opened = _ok(
            requester.post(
                "/tickets",
                json={"title": "Outlook keeps asking for my password", "urgency": 2},
            ),
            201,
        )
        # A requester does not triage: team, impact and the like are the desk's.
        refused = requester.post("/tickets", json={"title": "x", "team_id": people["desk"]["id"]})
        assert refused.status_code == 422 and "team_id" in refused.text
    number = opened["id"]
    assert opened["number"] == number and opened["state"] == "new"
    assert opened["requester_id"] == people["requester"]["id"]
    assert opened["priority"] == 4  # impact 3 (default) x urgency 2

    # Tier 1 routes it to the Service Desk: round robin picks an analyst.
    assigned = _ok(admin.post(f"/tickets/{number}/assign", json={"team_id": people["desk"]["id"]}))
    assert assigned["state"] == "assigned"
    assert assigned["assignee_id"] in (people["tier1"]["id"], people["tier1b"]["id"])
    second = _ok(
        admin.post("/tickets", json={"title": "another", "team_id": people["desk"]["id"]}), 201
    )
    assert {second["assignee_id"], assigned["assignee_id"]} == {
        people["tier1"]["id"],
        people["tier1b"]["id"],
    }, "round robin gives the next ticket to the other analyst"

    with _as(controller, people, "tier1") as analyst:
        _ok(analyst.post(f"/tickets/{number}/assign", json={"assignee_id": people["tier1"]["id"]}))
        working = _ok(analyst.post(f"/tickets/{number}/transition", json={"state": "in_progress"}))
        assert working["owned_at"] is not None
        illegal = analyst.post(f"/tickets/{number}/transition", json={"state": "closed"})
        assert illegal.status_code == 409 and "in_progress" in illegal.json()["detail"]
        no_reason = analyst.post(f"/tickets/{number}/transition", json={"state": "pending"})
        assert no_reason.status_code == 422 and "reason" in no_reason.text
        _ok(
            analyst.post(
                f"/tickets/{number}/comments",
                json={"body": "Profile looks corrupt", "public": False},
            ),
            201,
        )
        waiting = _ok(
            analyst.post(
                f"/tickets/{number}/transition", json={"state": "pending", "reason": "requester"}
            )
        )
        assert waiting["pending_reason"] == "requester" and waiting["follow_up_at"] is not None

    with _as(controller, people, "requester") as requester:
        # The requester's answer puts the ticket back to work.
        back = _ok(
            requester.post(f"/tickets/{number}/comments", json={"body": "Tried it, same"}), 201
        )
        assert back["state"] == "in_progress" and back["pending_reason"] is None
        seen = _ok(requester.get(f"/tickets/{number}/timeline"))
        assert all(entry["public"] for entry in seen)
        assert "Profile looks corrupt" not in str(seen), "internal notes stay internal"

    with _as(controller, people, "tier1") as analyst:
        escalated = _ok(
            analyst.post(
                f"/tickets/{number}/escalate",
                json={
                    "team_id": people["tier2_team"]["id"],
                    "kind": "hierarchical",
                    "reason": "needs a profile rebuild",
                },
            )
        )
        assert (
            escalated["escalation_level"] == 1
            and escalated["team_id"] == people["tier2_team"]["id"]
        )
        assert escalated["state"] == "new", "a manual team has nobody assigned yet"
    with _as(controller, people, "tier2") as specialist:
        _ok(
            specialist.post(
                f"/tickets/{number}/assign", json={"assignee_id": people["tier2"]["id"]}
            )
        )
        _ok(specialist.post(f"/tickets/{number}/transition", json={"state": "in_progress"}))
        blank = specialist.post(f"/tickets/{number}/transition", json={"state": "resolved"})
        assert blank.status_code == 422 and "resolution" in blank.text
        resolved = _ok(
            specialist.post(
                f"/tickets/{number}/transition",
                json={"state": "resolved", "resolution": "Rebuilt the Outlook profile"},
            )
        )
        assert resolved["resolved_at"] is not None

    with _as(controller, people, "requester") as requester:
        # Not fixed after all: the requester reopens, then confirms the second fix.
        _ok(requester.post(f"/tickets/{number}/transition", json={"state": "in_progress"}))
        sneaky = requester.post(
            f"/tickets/{number}/transition", json={"state": "pending", "reason": "vendor"}
        )
        assert sneaky.status_code == 409
    with _as(controller, people, "tier2") as specialist:
        _ok(
            specialist.post(
                f"/tickets/{number}/transition",
                json={"state": "resolved", "resolution": "Cleared the credential cache too"},
            )
        )
    with _as(controller, people, "requester") as requester:
        closed = _ok(requester.post(f"/tickets/{number}/transition", json={"state": "closed"}))
        assert closed["state"] == "closed" and closed["closed_at"] is not None
        final = requester.post(f"/tickets/{number}/comments", json={"body": "one more thing"})
        assert final.status_code == 409

    timeline = _ok(admin.get(f"/tickets/{number}/timeline"))
    kinds = [entry["kind"] for entry in timeline]
    assert kinds[0] == "created"
    assert kinds.count("comment") == 2 and "escalation" in kinds
    states = [(e["data"]["from"], e["data"]["to"]) for e in timeline if e["kind"] == "state"]
    assert states == [
        ("assigned", "in_progress"),
        ("in_progress", "pending"),
        ("pending", "in_progress"),
        ("assigned", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]
    escalation = next(e for e in timeline if e["kind"] == "escalation")
    assert escalation["body"] == "needs a profile rebuild"
    assert "diagnostics" in escalation["data"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)


def test_vendor_escalation_keeps_their_reference(
    admin: httpx.Client, people: dict[str, Any]
) -> None:
    ticket = _ok(
        admin.post("/tickets", json={"title": "Printer jams on tray 2", "channel": "walk_in"}), 201
    )
    escalated = _ok(
        admin.post(
            f"/tickets/{ticket['id']}/escalate",
            json={
                "team_id": people["vendor"]["id"],
                "reason": "hardware fault under warranty",
                "vendor_reference": "ACME-778812",
            },
        )
    )
    assert escalated["vendor_reference"] == "ACME-778812"
    entry = next(
        e for e in _ok(admin.get(f"/tickets/{ticket['id']}/timeline")) if e["kind"] == "escalation"
    )
    assert entry["data"]["vendor"] is True and "acme.example" in entry["data"]["vendor_contact"]
    wrong = admin.post(
        f"/tickets/{ticket['id']}/escalate",
        json={"team_id": people["desk"]["id"], "reason": "x", "vendor_reference": "R-1"},
    )
    assert wrong.status_code == 422 and "vendor_reference" in wrong.text


def test_requesters_see_only_their_own_tickets(
    controller: ControllerProcess, admin: httpx.Client, people: dict[str, Any]
) -> None:
    other = _ok(
        admin.post("/tickets", json={"title": "someone else's", "requester_name": "Bob"}), 201
    )
    with _as(controller, people, "requester") as requester:
        assert requester.get(f"/tickets/{other['id']}").status_code == 404
        mine = _ok(requester.get("/tickets"))["items"]
        assert mine and all(t["requester_id"] == people["requester"]["id"] for t in mine)
        assert requester.patch(f"/tickets/{other['id']}", json={"title": "x"}).status_code == 403
    with _as(controller, people, "auditor") as auditor:
        assert auditor.get(f"/tickets/{other['id']}").status_code == 200
        assert (
            auditor.post(f"/tickets/{other['id']}/assign", json={"assignee_id": 1}).status_code
            == 403
        )


def test_queues_filters_and_csv_export(admin: httpx.Client, people: dict[str, Any]) -> None:
    team = people["desk"]["id"]
    urgent = _ok(
        admin.post(
            "/tickets",
            json={"title": "=cmd|' /C calc'!A0", "impact": 1, "urgency": 1, "team_id": team},
        ),
        201,
    )
    queue = _ok(admin.get(f"/teams/{team}/queue"))["items"]
    assert urgent["id"] in [t["id"] for t in queue]
    assert all(t["team_id"] == team and t["state"] not in ("resolved", "closed") for t in queue)
    assert admin.get("/teams/999999/queue").status_code == 404
    p1 = _ok(admin.get("/tickets", params={"priority": 1, "state": "open"}))["items"]
    assert p1 and all(t["priority"] == 1 for t in p1)
    bad = admin.get("/tickets", params={"state": "sleeping"})
    assert bad.status_code == 422 and "state" in bad.text
    exported = admin.get("/tickets/export.csv", params={"team_id": team})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    row = next(r for r in rows if r["number"] == str(urgent["id"]))
    assert row["priority"] == "1" and row["title"].startswith("'="), "no formula injection"


def test_runs_asked_for_a_ticket_show_on_its_timeline_with_their_evidence(
    controller: ControllerProcess,
    admin: httpx.Client,
    people: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    missing = admin.post(
        "/runs",
        json={
            "action": "file.stat",
            "params": {"path": "/etc/hostname"},
            "endpoint_id": "x",
            "ticket_id": 99999999,
        },
    )
    assert missing.status_code == 422 and "ticket_id" in missing.text
    agent = AgentProcess(tmp_path_factory.mktemp("ticket-agent") / "agent")
    endpoint_id = agent.enroll(controller, controller.enrollment_token())
    agent.start()
    try:
        wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
        ticket = _ok(
            admin.post(
                "/tickets",
                json={"title": "Is the hostname right?", "endpoint_ids": [endpoint_id]},
            ),
            201,
        )
        assert ticket["endpoint_ids"] == [endpoint_id]
        run = _ok(
            admin.post(
                "/runs",
                params={"wait_s": 30},
                json={
                    "action": "file.stat",
                    "params": {"path": "/etc/hostname"},
                    "endpoint_id": endpoint_id,
                    "ticket_id": ticket["id"],
                },
            ),
            201,
        )["items"][0]
        assert run["state"] == "succeeded" and run["ticket_id"] == ticket["id"]
        entries = _ok(admin.get(f"/tickets/{ticket['id']}/timeline"))
        (entry,) = [e for e in entries if e["kind"] == "run"]
        assert entry["run_id"] == run["id"] and entry["data"]["state"] == "succeeded"
        assert entry["data"]["action"] == "file.stat"
        assert entry["data"]["output"] == run["result"]["output"]
        # The ticket is found from the machine too.
        by_endpoint = _ok(admin.get("/tickets", params={"endpoint_id": endpoint_id}))["items"]
        assert [t["id"] for t in by_endpoint] == [ticket["id"]]
        # Escalation carries what is known about the machine.
        wait_for(
            lambda: admin.get(f"/endpoints/{endpoint_id}/inventory").status_code == 200,
            30,
            "the agent's first inventory",
        )
        team = people["tier2_team"]["id"]
        _ok(admin.post(f"/tickets/{ticket['id']}/escalate", json={"team_id": team, "reason": "x"}))
        entries = _ok(admin.get(f"/tickets/{ticket['id']}/timeline"))
        (escalation,) = [e for e in entries if e["kind"] == "escalation"]
        (machine,) = escalation["data"]["diagnostics"]["endpoints"]
        assert machine["endpoint_id"] == endpoint_id
        assert machine["inventory"]["memory"], "the inventory went along"
        assert run["id"] in [r["id"] for r in machine["recent_runs"]]
    finally:
        agent.stop()


def test_bad_input_names_the_field_and_changes_nothing(admin: httpx.Client) -> None:
    before = _ok(admin.get("/tickets", params={"limit": 500}))["items"]
    for body, field in (
        ({"title": ""}, "title"),
        ({"title": "t", "impact": 4}, "impact"),
        ({"title": "t", "channel": "pigeon"}, "channel"),
        ({"title": "t", "category_id": 424242}, "category_id"),
        ({"title": "t", "assignee_id": 424242}, "assignee_id"),
        ({"title": "t", "endpoint_ids": ["nope"]}, "endpoint_ids[0]"),
        ({"title": "t", "requester_email": "not-an-address"}, "requester_email"),
    ):
        response = admin.post("/tickets", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.text, (field, response.text)
    assert _ok(admin.get("/tickets", params={"limit": 500}))["items"] == before


def test_resolved_tickets_become_articles_that_answer_new_ones(admin: httpx.Client) -> None:
    old = _ok(
        admin.post(
            "/tickets",
            json={"title": "VPN drops every hour", "description": "The VPN client disconnects"},
        ),
        201,
    )
    early = admin.post(f"/tickets/{old['id']}/kb-draft")
    assert early.status_code == 409, "only a resolved ticket is written up"
    fix = "Turn off power saving on the Wi-Fi adapter"
    _ok(
        admin.post(
            f"/tickets/{old['id']}/transition", json={"state": "resolved", "resolution": fix}
        )
    )
    article = _ok(admin.post(f"/tickets/{old['id']}/kb-draft"), 201)
    assert article["state"] == "draft" and article["source_ticket_id"] == old["id"]
    assert fix in article["body"]
    _ok(admin.post(f"/kb/{article['id']}/publish"))
    links = [e for e in _ok(admin.get(f"/tickets/{old['id']}/timeline")) if e["kind"] == "link"]
    assert links and links[0]["data"]["article_id"] == article["id"]

    new = _ok(admin.post("/tickets", json={"title": "My VPN keeps dropping out"}), 201)
    suggested = _ok(admin.get(f"/tickets/{new['id']}/suggestions"))["items"]
    assert article["id"] in [a["id"] for a in suggested]


def test_a_phone_call_through_the_analyst_cli(
    controller: ControllerProcess, people: dict[str, Any]
) -> None:
    import json
    import os
    import subprocess

    from processes import BIN

    env = {**os.environ, "DESKSIDE_URL": controller.url}
    env["DESKSIDE_TOKEN"] = people["tokens"]["tier1"]

    def deskside(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "deskside"), "tickets", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    opened = deskside(
        "new",
        "Cannot print to 3rd floor",
        "--urgency",
        "2",
        "--requester-email",
        "caller@example.org",
        "--json",
    )
    assert opened.returncode == 0, opened.stderr + opened.stdout
    number = str(json.loads(opened.stdout)["id"])
    me = str(people["tier1"]["id"])
    assert deskside("assign", number, "--to", me).returncode == 0
    assert deskside("move", number, "in_progress").returncode == 0
    assert deskside("comment", number, "Queue was paused", "--internal").returncode == 0
    refused = deskside("move", number, "pending")
    assert refused.returncode == 1 and "reason" in refused.stdout
    done = deskside("move", number, "resolved", "--resolution", "Resumed the queue", "--json")
    assert json.loads(done.stdout)["state"] == "resolved"
    mine = json.loads(deskside("ls", "--state", "resolved", "--mine", "--json").stdout)
    assert number in [str(t["id"]) for t in mine]
    shown = json.loads(deskside("show", number, "--json").stdout)
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[0] == "created" and "comment" in kinds
    table = deskside("show", number)
    assert table.returncode == 0 and "Queue was paused" in table.stdout
    assert deskside("show", "99999999").returncode == 3


def test_a_site_administrator_sees_the_tickets_of_their_sites(
    controller: ControllerProcess, admin: httpx.Client, people: dict[str, Any]
) -> None:
    with _as(controller, people, "usa") as usa:
        (site_id,) = _ok(usa.get("/me"))["site_ids"]
        theirs = _ok(
            admin.post("/tickets", json={"title": "at their site", "site_id": site_id}), 201
        )
        elsewhere = _ok(admin.post("/tickets", json={"title": "somewhere else"}), 201)
        assert usa.get(f"/tickets/{theirs['id']}").status_code == 200
        assert usa.get(f"/tickets/{elsewhere['id']}").status_code == 404
        listed = {t["id"] for t in _ok(usa.get("/tickets", params={"limit": 500}))["items"]}
        assert theirs["id"] in listed and elsewhere["id"] not in listed
        own = _ok(usa.post("/tickets", json={"title": "my own laptop"}), 201)
        assert usa.get(f"/tickets/{own['id']}").status_code == 200, "their own, on no site"
