"""The requesters' portal in a real Chromium against a real controller and agent: report a
problem about this computer, follow and comment on it, run a safe fix on one's own computer
(never on another), and answer a resolved ticket's satisfaction survey once.

The computer is detected from the address a request comes from, and loopback names no
machine (every agent reports 127.0.0.1). So the controller listens on this host's own
network address and the browser goes there: the browser's requests then come from that
address, which the local agent reports in its inventory, as on a requester's desk.

"Clear my temporary files" really deletes week-old files in /tmp and /var/tmp, so the agent
runs in its own mount namespace with private, throwaway /tmp and /var/tmp.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from browser import (
    sign_in,
    sqlite_only,  # noqa: F401  (the `database` fixture: SQLite alone)
)
from processes import AgentProcess, ControllerProcess, wait_for

PASSWORD = "correct horse battery staple"
MONTH_S = 30 * 86400
ROOT = Path(__file__).resolve().parents[2]
# Mount private directories ($1, $2) over /tmp and /var/tmp, then run the agent (the argv
# after $4). The checkout ($3, with its .venv) may itself live under /tmp, as a CI clone
# can: it is held at $4 first and bound back at its own path inside the private /tmp.
PRIVATE_TMP = (
    'mount --bind "$3" "$4" && mount --bind "$1" /tmp && mount --bind "$2" /var/tmp'
    ' && mkdir -p "$3" && mount --bind "$4" "$3" && shift 4 && exec "$@"'
)


def _host_address() -> str | None:
    """An IPv4 address of this host that is not loopback: what the agent reports."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith(
                ("127.", "169.254.")
            ):
                return str(address.address)
    return None


@pytest.fixture(scope="module")
def controller(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    address = _host_address()
    if address is None:
        pytest.skip("this host has no network address besides loopback")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("the agent's private /tmp needs root and unshare")
    process = ControllerProcess(
        tmp_path_factory.mktemp("controller"), database, listen_host=address
    ).start()
    yield process
    assert process.stop() == 0, process.log()


@pytest.fixture(scope="module")
def desk(controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # Outside /tmp: the agent's own /tmp is the private one.
    base = Path(tempfile.mkdtemp(prefix="deskside-portal-", dir="/run"))
    private = {name: base / name for name in ("tmp", "var-tmp")}
    for path in private.values():
        path.mkdir(mode=0o1777)
    (base / "checkout").mkdir()
    launcher = [
        "unshare", "--mount", "--propagation", "private", "--",
        "sh", "-c", PRIVATE_TMP, "sh",
        str(private["tmp"]), str(private["var-tmp"]), str(ROOT), str(base / "checkout"),
    ]  # fmt: skip
    agent = AgentProcess(base / "agent", launcher=launcher)
    try:
        endpoint_id = agent.enroll(controller, controller.enrollment_token())
        agent.start()
        # Another enrolled computer, never started: not the one anybody is using.
        other = AgentProcess(Path(tmp_path_factory.mktemp("other")) / "agent")
        other_id = other.enroll(controller, controller.enrollment_token())
        with controller.client() as admin:
            body = {"username": "rita", "password": PASSWORD, "role": "requester"}
            rita = admin.post("/users", json=body | {"full_name": "Rita Requester"}).json()
            token = admin.post("/tokens", json={"name": "tests", "user_id": rita["id"]}).json()
        with controller.client(token["token"]) as as_rita:

            def detected() -> Any:
                return as_rita.get("/self-service/this-machine").json()["machine"]

            machine = wait_for(detected, 60, "the agent's inventory naming this computer")
        assert machine["id"] == endpoint_id
        yield {
            "endpoint_id": endpoint_id,
            "hostname": machine["hostname"],
            "other_id": other_id,
            "rita": rita,
            "token": token["token"],
            "tmp": private["tmp"],
        }
    finally:
        agent.stop()
        shutil.rmtree(base, ignore_errors=True)


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _tickets_of(controller: ControllerProcess, user_id: int) -> list[dict[str, Any]]:
    with controller.client() as admin:
        found = admin.get("/tickets", params={"requester_id": user_id}).json()["items"]
    return list(found)


def test_a_requester_reports_a_problem_about_this_computer_and_follows_it_on_a_phone(
    controller: ControllerProcess, desk: Any, phone: Any
) -> None:
    sign_in(phone, controller.url, "rita", PASSWORD)
    phone.wait_for_url("**/portal")
    phone.get_by_role("link", name="Report a problem").first.click()
    this_computer = phone.get_by_label(f"This computer: {desk['hostname']}")
    assert this_computer.is_checked()
    assert _fits(phone)
    phone.get_by_label("What is wrong, in a few words").fill("Outlook freezes on start")
    phone.get_by_label("What happened?").fill("It hangs at 'Loading profile'.")
    phone.get_by_label("I cannot work at all").check()
    phone.get_by_role("button", name="Send").click()
    phone.wait_for_url("**/portal/tickets/*")
    phone.get_by_text(f"This computer: {desk['hostname']}").wait_for()
    ticket_id = int(phone.url.rsplit("/", 1)[1])
    with controller.client() as admin:
        ticket = admin.get(f"/tickets/{ticket_id}").json()
        params = {
            "object_type": "ticket",
            "object_id": str(ticket_id),
            "action": "link_this_machine",
        }
        (linked,) = admin.get("/audit", params=params).json()["items"]
    assert linked["after"]["endpoint_id"] == desk["endpoint_id"] and linked["actor"] == "rita"
    assert ticket["endpoint_ids"] == [desk["endpoint_id"]]
    assert (ticket["channel"], ticket["urgency"]) == ("portal", 1)
    assert ticket["requester_id"] == desk["rita"]["id"]

    phone.get_by_label("Add a comment (the service desk sees it)").fill("Still frozen today.")
    phone.get_by_role("button", name="Comment").click()
    phone.get_by_role("list", name="Timeline").get_by_text("Still frozen today.").wait_for()
    assert _fits(phone)
    with controller.client() as admin:
        entries = admin.get(f"/tickets/{ticket_id}/timeline").json()
    (comment,) = [e for e in entries if e["kind"] == "comment"]
    assert (comment["public"], comment["actor"]) == (True, "rita")

    phone.get_by_role("link", name="My tickets").click()
    phone.get_by_role("link", name="Outlook freezes on start").wait_for()
    assert _fits(phone)


def test_a_requester_clears_old_temporary_files_on_their_computer(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    stale = desk["tmp"] / "old-report.tmp"
    fresh = desk["tmp"] / "open-document.tmp"
    stale.write_text("from last month")
    fresh.write_text("still in use")
    month_ago = time.time() - MONTH_S
    os.utime(stale, (month_ago, month_ago))
    sign_in(page, controller.url, "rita", PASSWORD)
    page.goto(f"{controller.url}/portal/fixes")
    page.get_by_text(f"This computer: {desk['hostname']}").wait_for()
    fix = page.get_by_role("region", name="Clear my temporary files")
    fix.get_by_label(f"Yes, {desk['hostname']} is my computer").check()
    fix.get_by_role("button", name="Clear my temporary files").click()
    done = fix.locator("article.run.succeeded")
    done.wait_for()
    assert not stale.exists() and fresh.exists()
    ticket_id = int(done.get_by_role("link").get_attribute("href").rsplit("/", 1)[1])

    with controller.client() as admin:
        runs = admin.get("/runs", params={"endpoint_id": desk["endpoint_id"]}).json()["items"]
        (run,) = [r for r in runs if r["ticket_id"] == ticket_id and r["action"] == "disk.cleanup"]
        ticket = admin.get(f"/tickets/{ticket_id}").json()
        kinds = {e["kind"] for e in admin.get(f"/tickets/{ticket_id}/timeline").json()}
        audit = admin.get("/audit", params={"object_id": run["id"]}).json()["items"]
    assert (run["requested_by"], run["state"]) == ("rita", "succeeded")
    assert run["params"] == {"paths": ["/tmp", "/var/tmp"], "older_than_s": 7 * 86400}
    assert ticket["requester_id"] == desk["rita"]["id"]
    assert desk["endpoint_id"] in ticket["endpoint_ids"]
    assert {"run", "self_service"} <= kinds
    (request,) = audit  # the run's one event, saying it came from the portal
    assert request["action"] == "request" and request["after"]["self_service"]["confirmed"]

    page.goto(f"{controller.url}/portal/tickets/{ticket_id}")
    page.get_by_test_id("fix-run-state").filter(has_text="succeeded").wait_for()


def test_no_fix_runs_on_a_computer_that_is_not_the_requesters(
    controller: ControllerProcess, desk: Any
) -> None:
    before = len(_tickets_of(controller, desk["rita"]["id"]))
    body = {"endpoint_id": desk["other_id"], "confirm": True}
    with controller.client(desk["token"]) as as_rita:
        refused = as_rita.post("/self-service/fixes/clear-temp", json=body)
        unconfirmed = as_rita.post(
            "/self-service/fixes/clear-temp",
            json={"endpoint_id": desk["endpoint_id"], "confirm": False},
        )
        direct = as_rita.post(
            "/runs",
            json={"endpoint_id": desk["endpoint_id"], "action": "disk.cleanup",
                  "params": {"paths": ["/tmp"]}},
        )  # fmt: skip
    assert refused.status_code == 403, refused.text
    assert "not the computer this request comes from" in refused.json()["detail"]
    assert unconfirmed.status_code == 422 and "confirm" in unconfirmed.text
    assert direct.status_code == 403  # requesters still cannot create runs themselves
    with controller.client() as admin:
        runs = admin.get("/runs", params={"endpoint_id": desk["other_id"]}).json()["items"]
    assert runs == []
    assert len(_tickets_of(controller, desk["rita"]["id"])) == before


def test_the_requester_answers_a_resolved_tickets_survey_once(
    controller: ControllerProcess, desk: Any, page: Any
) -> None:
    with controller.client(desk["token"]) as as_rita:
        ticket = as_rita.post("/tickets", json={"title": "Need a new mouse"}).json()
    with controller.client() as admin:
        resolved = admin.post(
            f"/tickets/{ticket['id']}/transition",
            json={"state": "resolved", "resolution": "new mouse delivered"},
        )
    assert resolved.status_code == 200, resolved.text
    sign_in(page, controller.url, "rita", PASSWORD)
    page.goto(f"{controller.url}/portal/tickets/{ticket['id']}")
    page.get_by_label("5", exact=True).check()
    page.get_by_label("Anything to add? (optional)").fill("Fast, thank you")
    page.get_by_role("button", name="Send answer").click()
    page.get_by_test_id("survey-answer").filter(has_text="5 of 5").wait_for()
    assert page.get_by_role("button", name="Send answer").count() == 0
    page.get_by_role("list", name="Timeline").get_by_text("Satisfaction: 5 of 5").wait_for()

    with controller.client(desk["token"]) as as_rita:
        again = as_rita.post(f"/tickets/{ticket['id']}/survey", json={"rating": 1})
    assert again.status_code == 409
    assert "already answered" in again.json()["detail"]
    with controller.client() as admin:
        read = admin.get(f"/tickets/{ticket['id']}/survey").json()
    assert read["answer"]["rating"] == 5 and read["answer"]["comment"] == "Fast, thank you"


def test_this_machine_is_for_signed_in_people_only(controller: ControllerProcess) -> None:
    response = httpx.get(f"{controller.url}/api/v1/self-service/this-machine", timeout=30)
    assert response.status_code == 401


def test_help_articles_are_searched_and_read_in_the_portal(
    controller: ControllerProcess, desk: Any, phone: Any
) -> None:
    body = "# Before you call\n\nRestart Outlook in safe mode:\n\n1. Close it\n2. Run outlook /safe"
    with controller.client() as admin:
        article = admin.post("/kb", json={"title": "Outlook hangs on start", "body": body}).json()
        assert admin.post(f"/kb/{article['id']}/publish").status_code == 200
        draft = {"title": "Outlook internals (draft)", "body": "not for requesters"}
        assert admin.post("/kb", json=draft).status_code == 201
    sign_in(phone, controller.url, "rita", PASSWORD)
    phone.get_by_role("link", name="Help articles").click()
    phone.get_by_label("Search help articles").fill("outlook")
    phone.get_by_role("button", name="Search").click()
    phone.get_by_role("link", name="Outlook hangs on start").click()
    phone.get_by_role("heading", name="Before you call").wait_for()
    phone.get_by_role("listitem").filter(has_text="Run outlook /safe").wait_for()
    assert _fits(phone)
    phone.go_back()
    assert phone.get_by_role("link", name="Outlook internals (draft)").count() == 0
