"""The knowledge base in the web console, in a real Chromium against a real controller: a
tier 2 analyst writes an article, publishes it, edits it into a second version, and finds it
by search; its Markdown is shown as text, never as HTML; requesters never see drafts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser import (
    sign_in,
    sqlite_only,  # noqa: F401  (the `database` fixture: SQLite alone)
)
from processes import ControllerProcess

PASSWORD = "correct horse battery staple"
ARTICLE_URL = re.compile(r"/kb/\d+$")
BODY = """Outlook keeps asking for the password after a change.

# Fix
1. Close Outlook.
2. Remove the old entry from Credential Manager.

Then sign in again. <b>not bold</b> <script>alert(1)</script>"""


@pytest.fixture(scope="module")
def writer(controller: ControllerProcess) -> dict[str, Any]:
    body = {"username": "theo", "password": PASSWORD, "role": "tier2", "full_name": "Theo"}
    with controller.client() as admin:
        response = admin.post("/users", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_tier_two_writes_publishes_edits_and_finds_an_article(
    controller: ControllerProcess, writer: Any, page: Any
) -> None:
    sign_in(page, controller.url, "theo", PASSWORD)
    page.get_by_role("link", name="Knowledge base", exact=True).click()
    page.get_by_role("link", name="New article").click()
    page.get_by_label("Title").fill("Outlook password prompt loops")
    page.get_by_label("Body").fill(BODY)
    page.get_by_label("Tags (comma-separated)").fill("Outlook, passwords")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(ARTICLE_URL)
    article_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_test_id("article-state").filter(has_text="draft").wait_for()

    body = page.locator("#article .kb-body").first
    assert body.get_by_role("heading", name="Fix").count() == 1
    assert body.get_by_role("listitem").nth(1).inner_text() == (
        "Remove the old entry from Credential Manager."
    )
    assert "<b>not bold</b> <script>alert(1)</script>" in body.inner_text()
    assert body.locator("b, script").count() == 0  # shown as text, not as markup

    page.get_by_role("button", name="Publish").click()
    page.get_by_test_id("article-state").filter(has_text="published").wait_for()

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Body").fill(BODY + "\n\nStill stuck? Reset the profile.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/kb/{article_id}")
    versions = page.get_by_role("list", name="Versions")
    assert versions.get_by_text("Version 2").count() == 1
    assert versions.get_by_text("Version 1").count() == 1

    page.get_by_role("link", name="Knowledge base", exact=True).click()
    page.get_by_label("Words to find").fill("credential manager outlook")
    page.get_by_role("button", name="Search").click()
    found = page.get_by_role("list", name="Articles")
    found.get_by_role("link", name="Outlook password prompt loops").click()
    page.wait_for_url(f"**/kb/{article_id}")

    with controller.client() as admin:
        stored = admin.get(f"/kb/{article_id}").json()
    assert stored["state"] == "published" and stored["version"] == 2
    assert stored["tags"] == ["outlook", "passwords"] and stored["author"] == "theo"
    assert stored["body"].endswith("Reset the profile.")


def test_a_requester_token_does_not_see_drafts(
    controller: ControllerProcess, writer: Any, page: Any
) -> None:
    sign_in(page, controller.url, "theo", PASSWORD)
    page.goto(controller.url + "/kb/new")
    page.get_by_label("Title").fill("Printer queue stuck: internal notes")
    page.get_by_label("Body").fill("Restart the spooler on the print server.")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(ARTICLE_URL)
    draft_id = int(page.url.rsplit("/", 1)[1])
    page.goto(controller.url + "/kb?state=draft")
    assert page.get_by_role("link", name="Printer queue stuck: internal notes").count() == 1

    with controller.client() as admin:
        issued = admin.post("/tokens", json={"name": "portal-like", "role": "requester"})
        assert issued.status_code == 201, issued.text
        assert admin.get(f"/kb/{draft_id}").status_code == 200
    with controller.client(issued.json()["token"]) as requester:
        assert requester.get(f"/kb/{draft_id}").status_code == 404
        found = requester.get("/kb/search", params={"q": "spooler print server"}).json()
        listed = requester.get("/kb", params={"limit": 500}).json()
    assert found["items"] == []
    assert draft_id not in [a["id"] for a in listed["items"]]
