"""Administration in the web console, in a real Chromium against a real controller: an admin
sets up a site, a team and a site administrator who then signs in; a desk analyst is kept out
by the API; bad input is refused with the API's words and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from browser import (
    sign_in,
    sqlite_only,  # noqa: F401  (the `database` fixture: SQLite alone)
)
from processes import ControllerProcess

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def people(controller: ControllerProcess) -> dict[str, Any]:
    users = {}
    with controller.client() as admin:
        for name, role in (("ada", "admin"), ("tim", "tier1")):
            body = {"username": name, "password": PASSWORD, "role": role, "full_name": name}
            response = admin.post("/users", json=body)
            assert response.status_code == 201, response.text
            users[name] = response.json()
    return users


def _usernames(controller: ControllerProcess) -> list[str]:
    with controller.client() as admin:
        return [u["username"] for u in admin.get("/users", params={"limit": 500}).json()["items"]]


def test_an_admin_sets_up_a_site_a_team_and_a_site_administrator_who_signs_in(
    controller: ControllerProcess, people: Any, page: Any, chromium: Any
) -> None:
    sign_in(page, controller.url, "ada", PASSWORD)
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Sites").click()
    new_site = page.get_by_role("form", name="New site")
    new_site.get_by_label("Name", exact=True).fill("Lyon office")
    new_site.get_by_label("Time zone (IANA name)").fill("Europe/Paris")
    new_site.get_by_role("button", name="Create site").click()
    page.get_by_test_id("site-Lyon office").wait_for()

    page.get_by_role("link", name="Teams").click()
    new_team = page.get_by_role("form", name="New team")
    new_team.get_by_label("Name", exact=True).fill("Field Services")
    new_team.get_by_label("tim (tier1)").check()
    new_team.get_by_role("button", name="Create team").click()
    page.get_by_test_id("team-Field Services").filter(has_text="tim").wait_for()

    page.get_by_role("link", name="Users").click()
    new_user = page.get_by_role("form", name="New user")
    new_user.get_by_label("Username").fill("ursula")
    new_user.get_by_label("Full name").fill("Ursula Site-Admin")
    new_user.get_by_label("Role").select_option("usa")
    new_user.get_by_label("Lyon office").check()
    new_user.get_by_label("Password (blank: API tokens only)").fill(PASSWORD)
    new_user.get_by_role("button", name="Create user").click()
    page.get_by_test_id("user-ursula").filter(has_text="Lyon office").wait_for()
    assert "ursula" in page.get_by_role("region", name="Recent changes").inner_text()

    with controller.client() as admin:
        site = next(s for s in admin.get("/sites").json()["items"] if s["name"] == "Lyon office")
        team = next(t for t in admin.get("/teams").json()["items"] if t["name"] == "Field Services")
        ursula = next(u for u in admin.get("/users").json()["items"] if u["username"] == "ursula")
    assert site["timezone"] == "Europe/Paris"
    assert team["member_ids"] == [people["tim"]["id"]]
    assert ursula["role"] == "usa" and ursula["site_ids"] == [site["id"]]
    assert ursula["has_password"] and not ursula["disabled"]

    second = chromium.new_context().new_page()
    sign_in(second, controller.url, "ursula", PASSWORD)
    second.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").wait_for()
    assert second.get_by_text("Ursula Site-Admin").count() == 1
    assert second.get_by_role("link", name="Admin").count() == 0  # no users:write
    second.context.close()


def test_a_desk_analyst_is_not_allowed_into_administration(
    controller: ControllerProcess, people: Any, page: Any
) -> None:
    sign_in(page, controller.url, "tim", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").wait_for()
    assert page.get_by_role("link", name="Admin").count() == 0
    response = page.goto(controller.url + "/admin")
    assert response.status == 403  # the API's refusal of the audit trail, passed on
    page.get_by_role("heading", name="Not allowed").wait_for()
    assert page.get_by_role("form", name="New user").count() == 0


def test_bad_input_shows_the_apis_reason_and_creates_nothing(
    controller: ControllerProcess, people: Any, page: Any
) -> None:
    sign_in(page, controller.url, "ada", PASSWORD)
    page.goto(controller.url + "/admin/users")
    new_user = page.get_by_role("form", name="New user")
    new_user.get_by_label("Username").fill("siteless")
    new_user.get_by_label("Role").select_option("usa")  # a site administrator with no site
    new_user.get_by_role("button", name="Create user").click()
    page.locator("#alerts").filter(has_text="site_ids").wait_for()
    assert "siteless" not in _usernames(controller)

    page.goto(controller.url + "/admin/users")
    new_user = page.get_by_role("form", name="New user")
    new_user.get_by_label("Username").fill("tim")  # taken
    new_user.get_by_role("button", name="Create user").click()
    page.locator("#alerts").filter(has_text="'tim' exists").wait_for()
    assert _usernames(controller).count("tim") == 1

    new_user.get_by_label("Username").fill("fresh")  # put right, the refusal goes away
    new_user.get_by_role("button", name="Create user").click()
    page.get_by_test_id("user-fresh").wait_for()
    assert page.locator("#alerts").inner_text() == ""


def test_an_admin_changes_a_role_then_disables_the_account(
    controller: ControllerProcess, people: Any, page: Any, chromium: Any
) -> None:
    with controller.client() as admin:
        body = {"username": "val", "password": PASSWORD, "role": "tier1"}
        val = admin.post("/users", json=body).json()
    sign_in(page, controller.url, "ada", PASSWORD)
    page.goto(controller.url + "/admin/users")
    row = page.get_by_test_id("user-val")
    row.get_by_text("Edit").click()
    row.get_by_label("Role").select_option("tier2")
    row.get_by_role("button", name="Save").click()
    # The role's own cell: the row's edit form names every role, so the row says tier2 already.
    page.get_by_test_id("user-val").locator("td").nth(2).filter(has_text="tier2").wait_for()
    page.get_by_test_id("user-val").get_by_role("button", name="Disable val").click()
    page.get_by_test_id("user-val").locator("td").nth(4).filter(has_text="disabled").wait_for()
    with controller.client() as admin:
        stored = admin.get(f"/users/{val['id']}").json()
    assert stored["role"] == "tier2" and stored["disabled"] is True

    second = chromium.new_context().new_page()
    second.goto(controller.url + "/login")
    second.get_by_label("Username").fill("val")
    second.get_by_label("Password").fill(PASSWORD)
    second.get_by_role("button", name="Sign in").click()
    second.get_by_role("alert").filter(has_text="Wrong username or password").wait_for()
    assert second.get_by_role("link", name="Queue").count() == 0
    second.context.close()


def test_an_admin_adds_an_sla_policy_and_issues_an_enrolment_token(
    controller: ControllerProcess, people: Any, page: Any
) -> None:
    sign_in(page, controller.url, "ada", PASSWORD)
    page.goto(controller.url + "/admin/sla")
    new_policy = page.get_by_role("form", name="New SLA policy")
    new_policy.get_by_label("Name", exact=True).fill("High, anywhere")
    new_policy.get_by_label("Priority", exact=True).select_option("2")
    new_policy.get_by_label("Own within (minutes)").fill("30")
    new_policy.get_by_label("Resolve within (minutes)").fill("480")
    new_policy.get_by_label("escalate").check()
    new_policy.get_by_role("button", name="Create policy").click()
    page.get_by_test_id("policy-High, anywhere").filter(has_text="480 min").wait_for()
    with controller.client() as admin:
        policies = admin.get("/sla-policies").json()["items"]
    (policy,) = [p for p in policies if p["name"] == "High, anywhere"]
    assert (policy["priority"], policy["own_within_s"], policy["resolve_within_s"]) == (
        2,
        1800,
        28800,
    )
    assert policy["breach_actions"] == ["escalate"] and policy["site_id"] is None

    page.get_by_role("link", name="Enrol agents").click()
    page.get_by_label("Tags (comma-separated)").fill("lab")
    page.get_by_role("button", name="Create enrolment token").click()
    token = page.get_by_test_id("token").inner_text()
    ca_hash = page.get_by_test_id("ca-hash").inner_text()
    command = page.get_by_test_id("enroll-command").inner_text()
    grpc_address = controller.info["grpc"]
    assert command.startswith(f"deskside-agent enroll --controller {grpc_address} ")
    assert f"--token {token} --ca-hash {ca_hash}" in command
    assert token.startswith("dse_") and ca_hash.startswith("sha256:")
