"""A site systems administrator sees and acts on their own sites' machines only.

Outside their sites, objects answer 404 (their existence is not revealed) and nothing
changes, whatever the route.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from processes import AgentProcess, ControllerProcess
from sql import query


@pytest.fixture(scope="module")
def estate(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Sites A and B with one enrolled endpoint each, and a USA of site A."""
    base = tmp_path_factory.mktemp("estate")
    with controller.client() as admin:
        site_a = admin.post("/sites", json={"name": "Lyon", "timezone": "Europe/Paris"}).json()
        site_b = admin.post(
            "/sites", json={"name": "Boston", "timezone": "America/New_York"}
        ).json()
        endpoints = {}
        for site in (site_a, site_b):
            agent = AgentProcess(base / site["name"])
            endpoints[site["name"]] = agent.enroll(
                controller, controller.enrollment_token(site_id=site["id"])
            )
        usa = admin.post(
            "/users", json={"username": "usa-lyon", "role": "usa", "site_ids": [site_a["id"]]}
        )
        assert usa.status_code == 201, usa.text
        token = admin.post("/tokens", json={"name": "scope", "user_id": usa.json()["id"]}).json()[
            "token"
        ]
    with httpx.Client(
        base_url=controller.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield {
            "a": site_a,
            "b": site_b,
            "mine": endpoints["Lyon"],
            "theirs": endpoints["Boston"],
            "usa": client,
        }


def test_lists_show_only_their_sites(estate: dict[str, Any]) -> None:
    usa: httpx.Client = estate["usa"]
    listed = {e["id"] for e in usa.get("/endpoints").json()["items"]}
    assert estate["mine"] in listed
    assert estate["theirs"] not in listed
    assert usa.get("/endpoints", params={"site": "Boston"}).json()["items"] == []
    assert [s["name"] for s in usa.get("/sites").json()["items"]] == ["Lyon"]


def test_reads_outside_their_sites_are_404(estate: dict[str, Any]) -> None:
    usa: httpx.Client = estate["usa"]
    theirs = estate["theirs"]
    for path in (
        f"/endpoints/{theirs}",
        f"/endpoints/{theirs}/inventory",
        f"/endpoints/{theirs}/inventory/history",
        f"/sites/{estate['b']['id']}",
    ):
        response = usa.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "Boston" not in response.text
    assert usa.get(f"/endpoints/{estate['mine']}").status_code == 200


def test_actions_outside_their_sites_are_404_and_change_nothing(
    estate: dict[str, Any], controller: ControllerProcess, database: str
) -> None:
    usa: httpx.Client = estate["usa"]
    theirs = estate["theirs"]
    before = query(database, "SELECT id, site_id, revoked_at FROM endpoints ORDER BY id")
    audit_before = query(database, "SELECT COUNT(*) FROM audit_events")[0][0]
    assert usa.post(f"/endpoints/{theirs}/revoke").status_code == 404
    assert usa.patch(f"/endpoints/{theirs}", json={"tags": ["mine-now"]}).status_code == 404
    # Moving their own machine into a site they do not manage is refused too.
    moved = usa.patch(f"/endpoints/{estate['mine']}", json={"site_id": estate["b"]["id"]})
    assert moved.status_code == 422 and moved.json()["detail"][0]["loc"][-1] == "site_id"
    for body in ({"site_id": estate["b"]["id"]}, {}):
        enrol = usa.post("/enrollment-tokens", json=body)
        assert enrol.status_code == 422 and "site_id" in enrol.text
    assert query(database, "SELECT id, site_id, revoked_at FROM endpoints ORDER BY id") == before
    assert query(database, "SELECT COUNT(*) FROM audit_events")[0][0] == audit_before


def test_within_their_sites_they_can_act(estate: dict[str, Any]) -> None:
    usa: httpx.Client = estate["usa"]
    tagged = usa.patch(f"/endpoints/{estate['mine']}", json={"tags": ["kiosk", "lobby"]})
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["kiosk", "lobby"]
    enrol = usa.post("/enrollment-tokens", json={"site_id": estate["a"]["id"]})
    assert enrol.status_code == 201 and enrol.json()["site"] == "Lyon"
    assert usa.post(f"/endpoints/{estate['mine']}/revoke").json()["revoked"] is True


def test_site_writes_and_other_users_stay_out_of_reach(estate: dict[str, Any]) -> None:
    usa: httpx.Client = estate["usa"]
    assert usa.patch(f"/sites/{estate['a']['id']}", json={"hours": "24/7"}).status_code == 403
    assert usa.post("/users", json={"username": "x", "role": "admin"}).status_code == 403
    me = usa.get("/me").json()
    assert me["role"] == "usa" and me["site_ids"] == [estate["a"]["id"]]
    assert usa.get("/audit").status_code == 403


def test_a_narrowed_token_keeps_its_owners_site_scope(
    estate: dict[str, Any], controller: ControllerProcess
) -> None:
    usa: httpx.Client = estate["usa"]
    narrowed = usa.post("/tokens", json={"name": "read-only", "role": "tier1"})
    assert narrowed.status_code == 201, narrowed.text
    with controller.client(token=narrowed.json()["token"]) as reader:
        me = reader.get("/me").json()
        assert me["role"] == "tier1" and me["site_ids"] == [estate["a"]["id"]]
        listed = {e["id"] for e in reader.get("/endpoints").json()["items"]}
        assert estate["theirs"] not in listed
        assert reader.get(f"/endpoints/{estate['theirs']}").status_code == 404


def test_a_missing_site_and_someone_elses_site_look_the_same(estate: dict[str, Any]) -> None:
    usa: httpx.Client = estate["usa"]
    theirs = usa.patch(f"/endpoints/{estate['mine']}", json={"site_id": estate["b"]["id"]})
    missing = usa.patch(f"/endpoints/{estate['mine']}", json={"site_id": 987654})
    assert theirs.status_code == missing.status_code == 422
    strip = str.maketrans("", "", "0123456789")
    assert theirs.text.translate(strip) == missing.text.translate(strip)
