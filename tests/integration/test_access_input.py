"""Bad input on the access routes: 422 naming the field (or 409), and nothing changes."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from processes import BIN, ControllerProcess
from sql import query

TABLES = ("users", "sites", "teams", "api_tokens", "user_sites", "team_members", "audit_events")


def _counts(database: str) -> dict[str, int]:
    return {t: query(database, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/users", {"username": "x", "role": "god"}, 422, "role"),
        ("POST", "/users", {"username": "-bad name", "role": "tier1"}, 422, "username"),
        ("POST", "/users", {"username": "ok-usa", "role": "usa"}, 422, "site_ids"),
        (
            "POST",
            "/users",
            {"username": "ok-t1", "role": "tier1", "site_ids": [1]},
            422,
            "site_ids",
        ),
        (
            "POST",
            "/users",
            {"username": "ok-usa2", "role": "usa", "site_ids": [424242]},
            422,
            "site_ids",
        ),
        (
            "POST",
            "/users",
            {"username": "pw", "role": "tier1", "password": "short"},
            422,
            "password",
        ),
        (
            "POST",
            "/users",
            {"username": "mail", "role": "tier1", "email": "not-an-address"},
            422,
            "email",
        ),
        ("POST", "/sites", {"name": "Mars", "timezone": "Mars/Olympus_Mons"}, 422, "timezone"),
        ("POST", "/sites", {"name": ""}, 422, "name"),
        (
            "POST",
            "/sites",
            {"name": "c", "contacts": [{"name": "x", "email": "nope"}]},
            422,
            "email",
        ),
        ("POST", "/teams", {"name": "T", "member_ids": [424242]}, 422, "member_ids[0]"),
        ("POST", "/teams", {"name": "T", "lead_id": 424242}, 422, "lead_id"),
        ("POST", "/tokens", {"name": "t", "user_id": 424242}, 422, "user_id"),
        ("POST", "/tokens", {"name": "t", "role": "superuser"}, 422, "role"),
        ("PATCH", "/users/1", {"disabled": None}, 422, "disabled"),
        ("PATCH", "/users/1", {"password": None}, 422, "password"),
        ("PATCH", "/me", {"full_name": None}, 422, "full_name"),
        ("PATCH", "/sites/1", {"name": None}, 422, "name"),
        ("PATCH", "/users/1", {"role": "tier1"}, 409, None),  # the last admin
        ("PATCH", "/users/1", {"disabled": True}, 409, None),
        ("DELETE", "/users/1", None, 409, None),
    ],
)
def test_refused_with_the_field_named_and_nothing_changed(
    controller: ControllerProcess,
    database: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    field: str | None,
) -> None:
    before = _counts(database)
    with controller.client() as admin:
        response = admin.request(method, path, json=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["detail"][0]["loc"][-1] == field, response.text
    assert _counts(database) == before


def test_duplicate_names_are_conflicts(controller: ControllerProcess, database: str) -> None:
    with controller.client() as admin:
        for path, body in (
            ("/sites", {"name": "Twice"}),
            ("/teams", {"name": "Twice"}),
            ("/users", {"username": "twice", "role": "tier1"}),
        ):
            assert admin.post(path, json=body).status_code == 201
            before = _counts(database)
            again = admin.post(path, json=body)
            assert again.status_code == 409 and "exists" in again.text
            assert _counts(database) == before


def test_operator_cli_manages_users_and_tokens(controller: ControllerProcess) -> None:
    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "deskside-controller"), *args],
            env=controller.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    with controller.client() as admin:
        admin.post("/sites", json={"name": "CLI site"})
    added = cli(
        "user",
        "add",
        "cli-usa",
        "--role",
        "usa",
        "--site",
        "CLI site",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert added.returncode == 0, added.stderr
    listed = cli("user", "list", "--json")
    (row,) = [u for u in json.loads(listed.stdout) if u["username"] == "cli-usa"]
    assert row["role"] == "usa" and len(row["site_ids"]) == 1
    created = cli("token", "create", "--user", "cli-usa", "--name", "script", "--days", "7")
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    with controller.client(token=issued["token"]) as usa:
        assert usa.get("/me").json()["user"]["username"] == "cli-usa"
    assert cli("token", "revoke", str(issued["id"])).returncode == 0
    with controller.client(token=issued["token"]) as usa:
        assert usa.get("/me").status_code == 401
    bad_role = cli("user", "add", "x", "--role", "wizard")
    assert bad_role.returncode == 2 and "wizard" in bad_role.stderr
    no_site = cli("user", "add", "y", "--role", "usa", "--site", "Atlantis")
    assert no_site.returncode == 2 and "Atlantis" in no_site.stderr
    with controller.client() as admin:
        trail = admin.get(
            "/audit", params={"object_type": "token", "object_id": str(issued["id"])}
        ).json()["items"]
    assert [e["action"] for e in trail] == ["revoke", "create"]
    assert all(e["actor"].startswith("cli:") for e in trail)
