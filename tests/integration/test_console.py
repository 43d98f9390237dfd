"""The web console in a real Chromium against a real controller and agent: sign in, the
queue by keyboard, a ticket's fix run on its machine with live output, then resolved."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import (
    sign_in,
    sqlite_only,  # noqa: F401  (the `database` fixture: SQLite alone)
)
from processes import AgentProcess, ControllerProcess, wait_for

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def desk(controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    agent = AgentProcess(Path(tmp_path_factory.mktemp("console")) / "agent")
    endpoint_id = agent.enroll(controller, controller.enrollment_token(tags=["console"]))
    agent.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
    with controller.client() as admin:
        team = admin.post("/teams", json={"name": "Service Desk"}).json()
        users = {}
        for name, role in (("tina", "tier1"), ("theo", "tier2")):
            body = {"username": name, "password": PASSWORD, "role": role, "full_name": name}
            users[name] = admin.post("/users", json=body).json()
    yield {"endpoint_id": endpoint_id, "team": team, "users": users, "agent": agent}
    agent.stop()


def _ticket(controller: ControllerProcess, desk: Any, title: str, **extra: Any) -> dict[str, Any]:
    body = {
        "title": title,
        "channel": "phone",
        "team_id": desk["team"]["id"],
        "assignee_id": desk["users"]["tina"]["id"],
        "endpoint_ids": [desk["endpoint_id"]],
        **extra,
    }
    with controller.client() as admin:
        response = admin.post("/tickets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_analyst_fixes_a_runaway_process_from_the_ticket_and_resolves_it(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    runaway = subprocess.Popen(["sleep", "600"])
    try:
        ticket = _ticket(controller, desk, "PC is slow: something eats the CPU")
        sign_in(page, controller.url, "tina", PASSWORD)
        page.get_by_role("link", name=ticket["title"]).click()
        page.wait_for_url(f"**/tickets/{ticket['id']}")
        page.get_by_label("Action").select_option("process.kill")
        page.get_by_label("pid").fill(str(runaway.pid))
        page.get_by_label("Reason (kept with the run)").fill("runaway sleep")
        page.get_by_role("button", name="Run", exact=True).click()
        page.locator("article.run.succeeded").wait_for()
        wait_for(lambda: runaway.poll() is not None, 10, "the process killed by the run")
        page.get_by_label("Move to").select_option("resolved")
        page.get_by_label("Resolution (to resolve)").fill("killed the runaway process")
        page.get_by_role("button", name="Change state").click()
        page.get_by_test_id("ticket-state").filter(has_text="resolved").wait_for()
    finally:
        runaway.kill()
    with controller.client() as admin:
        stored = admin.get(f"/tickets/{ticket['id']}").json()
        runs = admin.get("/runs", params={"ticket_id": ticket["id"]}).json()["items"]
    assert stored["state"] == "resolved" and stored["resolution"] == "killed the runaway process"
    (kill,) = runs
    hostname = controller.endpoint(desk["endpoint_id"])["hostname"]
    page.get_by_text(f"process.kill on {hostname}: succeeded").wait_for()  # the timeline
    assert kill["action"] == "process.kill" and kill["requested_by"] == "tina"
    assert kill["params"] == {"pid": runaway.pid, "signal": "TERM"} and kill["state"] == "succeeded"


def test_a_preview_shows_the_change_without_making_it(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    ticket = _ticket(controller, desk, "Intranet name does not resolve")
    hosts = Path("/etc/hosts").read_bytes()
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/tickets/{ticket['id']}")
    page.get_by_label("Action").select_option("hosts.set")
    page.get_by_label("hostname (required)").fill("intranet.console-preview.test")
    page.get_by_label("address").fill("192.0.2.10")
    page.get_by_role("button", name="Preview (dry run)").click()
    preview = page.locator("article.run.succeeded").first
    preview.wait_for()
    assert "preview" in preview.inner_text()
    assert Path("/etc/hosts").read_bytes() == hosts
    with controller.client() as admin:
        runs = admin.get("/runs", params={"endpoint_id": desk["endpoint_id"]}).json()["items"]
    (run,) = [r for r in runs if r["ticket_id"] == ticket["id"]]
    assert run["dry_run"] is True and run["action"] == "hosts.set"


def test_a_playbook_runs_from_the_ticket_and_its_steps_show(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    ticket = _ticket(controller, desk, "Cannot reach the intranet by name")
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/tickets/{ticket['id']}")
    page.get_by_label("Playbook").select_option("dns-resolver")
    page.get_by_label("name (required)").fill("localhost")
    page.get_by_role("button", name="Run playbook").click()
    done = page.locator("article[data-testid=playbook-run].succeeded")
    done.wait_for()
    assert "resolve" in done.inner_text()
    with controller.client() as admin:
        runs = admin.get("/playbook-runs", params={"ticket_id": ticket["id"]}).json()["items"]
    assert [(r["playbook"], r["state"]) for r in runs] == [("dns-resolver", "succeeded")]


def test_output_shows_live_while_the_run_goes_on(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    ticket = _ticket(controller, desk, "Network drops")
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/tickets/{ticket['id']}")
    page.get_by_label("Action").select_option("net.ping")
    page.get_by_label("host (required)").fill("127.0.0.1")
    page.get_by_label("count").fill("4")  # one echo a second
    page.get_by_role("button", name="Run", exact=True).click()
    live = page.locator("pre[data-run-events]").first
    live.filter(has_text="127.0.0.1").wait_for()  # streamed, before the final card replaces it
    assert page.locator("article.run.succeeded").count() == 0
    page.locator("article.run.succeeded").wait_for()


def test_a_bad_parameter_is_named_and_changes_nothing(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    ticket = _ticket(controller, desk, "Check a file")
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/tickets/{ticket['id']}")
    page.get_by_label("Action").select_option("process.kill")
    page.get_by_label("pid").fill("1")  # below the minimum: the API names the field
    page.get_by_role("button", name="Run", exact=True).click()
    alert = page.locator("#alerts")
    alert.filter(has_text="pid").wait_for()
    assert page.get_by_test_id("run").count() == 0
    page.get_by_label("Action").select_option("file.stat")
    page.get_by_label("path (required)").fill("/etc/hosts")
    page.get_by_role("button", name="Run", exact=True).click()
    done = page.locator("article.run.succeeded").first  # the final card, output and all
    done.get_by_text("Details").click()
    assert "/etc/hosts" in done.inner_text()


def test_high_risk_waits_for_tier_two_who_approves_it_in_the_console(
    controller: ControllerProcess, desk: Any, page: Any, chromium: Any
) -> None:
    ticket = _ticket(controller, desk, "Account locked after password change")
    sign_in(page, controller.url, "tina", PASSWORD)
    page.goto(f"{controller.url}/tickets/{ticket['id']}")
    page.get_by_label("Action").select_option("user.reset_password")
    page.get_by_label("username (required)").fill("nobody-here-at-all")
    page.get_by_label("password (required)").fill("Temporary-Passw0rd")
    page.get_by_role("button", name="Run", exact=True).click()
    # The browser holds the form back until the analyst confirms.
    assert page.locator("input[name=confirm]:invalid").count() == 1
    assert page.get_by_test_id("run").count() == 0
    page.get_by_label("I have checked with the user").check()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("waits for approval").wait_for()
    assert page.get_by_role("button", name="Approve").count() == 0  # tier 1 may not
    second = chromium.new_context().new_page()
    sign_in(second, controller.url, "theo", PASSWORD)
    second.goto(f"{controller.url}/tickets/{ticket['id']}")
    second.once("dialog", lambda dialog: dialog.accept())
    second.get_by_role("button", name="Approve").first.click()
    state = second.get_by_test_id("run-state").first
    wait_for(lambda: state.inner_text() in ("failed", "succeeded"), 30, "the approved run ends")
    second.context.close()


def test_the_queue_works_from_the_keyboard_alone(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    first = _ticket(controller, desk, "Keyboard first")
    _ticket(controller, desk, "Keyboard second")
    sign_in(page, controller.url, "tina", PASSWORD)
    page.keyboard.press("j")  # the newest ticket first
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tickets/{first['id']}")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_pages_forbid_inline_script_and_changes_need_the_csrf_token(
    controller: ControllerProcess, desk: Any
) -> None:
    with httpx.Client(base_url=controller.url) as browser_like:
        login = browser_like.get("/login")
        policy = login.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert login.headers["x-frame-options"] == "DENY"
        signed = browser_like.post(
            "/login",
            data={"username": "tina", "password": PASSWORD, "next": "/"},
            headers={"Origin": controller.url},
        )
        assert signed.status_code == 303 and "httponly" in signed.headers["set-cookie"].lower()
        ticket = _ticket(controller, desk, "CSRF probe")
        before = len(browser_like.get(f"/api/v1/tickets/{ticket['id']}/timeline").json())
        forged = browser_like.post(
            f"/tickets/{ticket['id']}/comment",
            data={"body": "forged"},
            headers={"Origin": controller.url, "HX-Request": "true"},
        )
        assert "X-CSRF-Token" in forged.text
        foreign = browser_like.post(
            "/login",
            data={"username": "tina", "password": PASSWORD},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403 and "cross-origin" in foreign.text
        after = len(browser_like.get(f"/api/v1/tickets/{ticket['id']}/timeline").json())
    assert after == before
    time.sleep(0)  # nothing to wait for: the refusals are synchronous


def test_no_page_breaks_its_content_security_policy(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    ticket = _ticket(controller, desk, "CSP walk")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, controller.url, "tina", PASSWORD)
    for path in (
        "/",
        f"/tickets/{ticket['id']}",
        f"/endpoints/{desk['endpoint_id']}",
        "/endpoints",
        "/fleet",
        "/dashboard",
        "/kb",
    ):
        page.goto(controller.url + path)
        page.wait_for_load_state("networkidle")
    page.goto(f"{controller.url}/tickets/{ticket['id']}")
    page.get_by_label("Action").select_option("file.stat")  # an htmx swap, too
    page.get_by_label("path (required)").wait_for()
    assert problems == []
