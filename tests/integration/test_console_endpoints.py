"""The console's endpoint pages and fleet view in a real Chromium, against a real controller
with two real agents: the list, a machine's inventory and its changes, a bulk run by tag
followed to its end, and a site administrator who sees only their site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    sign_in,
    sqlite_only,  # noqa: F401  (the `database` fixture: SQLite alone)
)
from processes import AgentProcess, ControllerProcess, wait_for

PASSWORD = "correct horse battery staple"


def _inventory_changes(controller: ControllerProcess, endpoint_id: str) -> list[dict[str, Any]]:
    with controller.client() as admin:
        response = admin.get(f"/endpoints/{endpoint_id}/inventory/changes", params={"limit": 5})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


@pytest.fixture(scope="module")
def fleet(controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two agents tagged lab, one at site north and one at site south; tina (tier 1) and
    uma, who administers north only."""
    agents, ids = [], []
    for name in ("north", "south"):
        agent = AgentProcess(Path(tmp_path_factory.mktemp("fleet")) / f"agent-{name}")
        token = controller.enrollment_token(tags=["lab", f"room-{name}"])
        ids.append(agent.enroll(controller, token))
        agents.append(agent.start())
    for endpoint_id in ids:
        wait_for(lambda e=endpoint_id: controller.endpoint(e)["online"], 60, "agent online")
    with controller.client() as admin:
        sites = {}
        for name, endpoint_id in zip(("north", "south"), ids, strict=True):
            site = admin.post("/sites", json={"name": name})
            assert site.status_code == 201, site.text
            sites[name] = site.json()
            moved = admin.patch(f"/endpoints/{endpoint_id}", json={"site_id": site.json()["id"]})
            assert moved.status_code == 200, moved.text
        for username, role, site_ids in (
            ("tina", "tier1", []),
            ("uma", "usa", [sites["north"]["id"]]),
        ):
            body = {"username": username, "password": PASSWORD, "role": role, "site_ids": site_ids}
            created = admin.post("/users", json=body)
            assert created.status_code == 201, created.text
    yield {"north": ids[0], "south": ids[1], "sites": sites}
    for agent in agents:
        agent.stop()


def _endpoint_links(page: Any) -> set[str]:
    table = page.get_by_test_id("endpoint-list")
    hrefs = table.locator("a[href^='/endpoints/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return {href.rsplit("/", 1)[1] for href in hrefs}


def test_the_endpoint_list_shows_every_machine_and_filters_and_opens_by_keyboard(
    controller: ControllerProcess, fleet: Any, page: Any
) -> None:
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/endpoints")
    assert _endpoint_links(page) == {fleet["north"], fleet["south"]}
    rows = page.get_by_test_id("endpoint-list").locator("tbody tr")
    north = rows.filter(has_text="room-north")
    assert "north" in north.locator("td").nth(2).inner_text()
    # Online or not is whatever the last heartbeat says; on a busy machine it may flap.
    assert north.locator("td").nth(4).inner_text() in ("online", "offline")
    assert rows.filter(has_text="room-south").count() == 1
    page.get_by_label("Tag").fill("room-south")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/endpoints?*tag=room-south*")
    assert _endpoint_links(page) == {fleet["south"]}
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/endpoints/{fleet['south']}")


def test_an_endpoint_page_shows_its_inventory_and_what_each_change_changed(
    controller: ControllerProcess, fleet: Any, page: Any
) -> None:
    endpoint_id = fleet["north"]
    # Inventories come every 2 s: wait for one that changed something after the first.
    changes = wait_for(
        lambda: [c for c in _inventory_changes(controller, endpoint_id) if not c["full"]],
        60,
        "an inventory change after the first snapshot",
    )
    with controller.client() as admin:
        sections = admin.get(f"/endpoints/{endpoint_id}/inventory").json()["sections"]
    changed = next(s for c in changes for s in c["sections"] if s["kind"] == "changed")
    assert changed["fields"] and all(f["before"] != f["after"] for f in changed["fields"])
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/endpoints/{endpoint_id}")
    facts = page.get_by_test_id("endpoint-facts")
    assert sections["os"]["hostname"] in facts.inner_text()
    assert sections["os"]["pretty_name"] in facts.inner_text()
    history = page.get_by_test_id("inventory-change")
    assert history.count() >= 2
    # Newer inventories may have come since: find the one the API answered about.
    step = changes[0]
    entry = history.filter(has_text=f"inventory {step['seq']} ·")
    listed = ", ".join(s["section"] for s in step["sections"])
    assert listed in entry.locator("summary").inner_text()
    shown = next(s for s in step["sections"] if s["fields"])
    assert shown["fields"][0]["path"] in (entry.text_content() or "")
    if sections.get("services", {}).get("items"):
        service = sections["services"]["items"][0]["name"]
        assert service in page.get_by_test_id("endpoint-services").inner_text()
    # Processes change by the second; the busiest are listed, whichever they are now.
    assert page.get_by_test_id("endpoint-processes").locator("tbody tr").count() >= 1
    packages = sections.get("software", {}).get("packages", [])
    if packages:
        assert (
            f"Installed software: {len(packages)} packages"
            in page.locator("#services").inner_text()
        )
    page.get_by_role("link", name="New ticket for this machine").click()
    page.wait_for_url(f"**/tickets/new?endpoint={endpoint_id}")


def test_a_quick_run_from_the_endpoint_page_runs_on_that_machine(
    controller: ControllerProcess, fleet: Any, page: Any
) -> None:
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/endpoints/{fleet['south']}")
    page.get_by_label("Action").select_option("file.stat")
    page.get_by_label("path (required)").fill("/etc/hosts")
    page.get_by_role("button", name="Run", exact=True).click()
    page.locator("#runs article.run.succeeded").wait_for()
    with controller.client() as admin:
        runs = admin.get("/runs", params={"endpoint_id": fleet["south"]}).json()["items"]
    assert [r["action"] for r in runs if r["requested_by"] == "tina"][:1] == ["file.stat"]


def test_a_bulk_run_by_tag_from_the_fleet_view_ends_with_every_host_succeeded(
    controller: ControllerProcess, fleet: Any, page: Any
) -> None:
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/fleet")
    lab = page.get_by_test_id("fleet-tags").locator("tbody tr").filter(has_text="lab")
    assert lab.locator("td").nth(1).inner_text() == "2"
    lab.get_by_role("link", name="Run on tag lab").click()
    page.wait_for_url("**/fleet?tag=lab")
    assert page.get_by_label("every endpoint with a tag").is_checked()
    page.get_by_label("Action").select_option("file.stat")
    page.get_by_label("path (required)").fill("/etc/hosts")
    page.get_by_label("Reason (kept with each run)").fill("bulk check of hosts files")
    page.get_by_role("button", name="Run on all").click()
    page.wait_for_url("**/fleet/batches/*")
    batch_id = page.url.rsplit("/", 1)[1]
    # The page polls itself until every run has ended, then stops polling.
    page.locator("[data-testid=batch-summary][data-finished=yes]").wait_for(timeout=90_000)
    assert page.get_by_test_id("tally-succeeded").inner_text() == "succeeded: 2"
    assert page.locator("#batch-bar").get_attribute("value") == "2"
    states = page.get_by_test_id("batch-run-state").all_inner_texts()
    assert states == ["succeeded", "succeeded"]
    with controller.client() as admin:
        runs = admin.get("/runs", params={"batch": batch_id}).json()["items"]
    assert {r["endpoint_id"] for r in runs} == {fleet["north"], fleet["south"]}
    assert all(r["state"] == "succeeded" and r["action"] == "file.stat" for r in runs)
    assert all(r["requested_by"] == "tina" and r["params"]["path"] == "/etc/hosts" for r in runs)
    assert all(r["reason"] == "bulk check of hosts files" and not r["dry_run"] for r in runs)


def test_ticked_endpoints_get_the_bulk_run_and_the_others_do_not(
    controller: ControllerProcess, fleet: Any, page: Any
) -> None:
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/fleet")
    page.get_by_label("the endpoints ticked below").check()
    page.get_by_label("Action").select_option("file.stat")
    page.get_by_label("path (required)").fill("/etc/hostname")
    page.get_by_role("button", name="Run on all").click()  # nothing ticked yet
    page.locator("#alerts").filter(has_text="endpoint").wait_for()
    assert page.url.endswith("/fleet")
    page.locator(f"#tick-{fleet['north']}").check()
    page.get_by_role("button", name="Run on all").click()
    page.wait_for_url("**/fleet/batches/*")
    page.locator("[data-testid=batch-summary][data-finished=yes]").wait_for(timeout=90_000)
    with controller.client() as admin:
        runs = admin.get("/runs", params={"batch": page.url.rsplit("/", 1)[1]}).json()["items"]
    assert [r["endpoint_id"] for r in runs] == [fleet["north"]]


def test_a_site_administrator_sees_only_their_sites_machines(
    controller: ControllerProcess, fleet: Any, page: Any
) -> None:
    sign_in(page, controller.url, "uma", PASSWORD)
    page.goto(f"{controller.url}/endpoints")
    assert _endpoint_links(page) == {fleet["north"]}
    page.goto(f"{controller.url}/fleet")
    assert page.get_by_test_id("fleet-total").inner_text().endswith(" of 1 endpoints online")
    assert page.get_by_test_id("fleet-sites").inner_text().count("south") == 0
    assert page.locator(f"#tick-{fleet['south']}").count() == 0
    response = page.goto(f"{controller.url}/endpoints/{fleet['south']}")
    assert response.status in (403, 404)
    assert page.locator("[data-testid=endpoint-facts]").count() == 0
