"""Credentials: API tokens (revoked, expired, narrowed, disabled owners) and console sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from processes import ControllerProcess
from sql import query

PASSWORD = "correct horse battery staple"


def _bearer(controller: ControllerProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=controller.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}
    )


def _user(controller: ControllerProcess, username: str, role: str, **extra: Any) -> dict[str, Any]:
    with controller.client() as admin:
        response = admin.post("/users", json={"username": username, "role": role, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _token(controller: ControllerProcess, user_id: int, **extra: Any) -> dict[str, Any]:
    with controller.client() as admin:
        response = admin.post("/tokens", json={"name": "t", "user_id": user_id, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_revoked_and_expired_tokens_are_refused(
    controller: ControllerProcess, database: str
) -> None:
    user = _user(controller, "tokens-t1", "tier1")
    revoked, expired = _token(controller, user["id"]), _token(controller, user["id"])
    with _bearer(controller, revoked["token"]) as client:
        assert client.get("/endpoints").status_code == 200
        assert client.delete(f"/tokens/{revoked['id']}").json()["revoked_at"] is not None
        refused = client.get("/endpoints")
        assert refused.status_code == 401 and "revoked" in refused.text
    past = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    query(
        database,
        "UPDATE api_tokens SET expires_at = $1 WHERE id = $2",
        past if "postgres" in database else past.strftime("%Y-%m-%d %H:%M:%S.000000"),
        expired["id"],
    )
    with _bearer(controller, expired["token"]) as client:
        response = client.get("/endpoints")
        assert response.status_code == 401 and "expired" in response.text


def test_a_token_narrows_its_owners_role_and_never_widens_it(controller: ControllerProcess) -> None:
    with controller.client() as admin:
        me = admin.get("/me").json()
        narrow = admin.post("/tokens", json={"name": "read-only", "role": "tier1"})
    assert narrow.status_code == 201 and narrow.json()["user_id"] == me["user"]["id"]
    with _bearer(controller, narrow.json()["token"]) as client:
        assert client.get("/endpoints").status_code == 200
        assert client.post("/sites", json={"name": "nope"}).status_code == 403
        assert client.get("/me").json()["role"] == "tier1"
    tier1 = _user(controller, "narrow-t1", "tier1")
    with _bearer(controller, _token(controller, tier1["id"])["token"]) as client:
        wider = client.post("/tokens", json={"name": "up", "role": "admin"})
        assert wider.status_code == 422 and wider.json()["detail"][0]["loc"][-1] == "role"
        for_someone_else = client.post(
            "/tokens", json={"name": "theirs", "user_id": me["user"]["id"]}
        )
        assert for_someone_else.status_code == 403
        others = client.get("/tokens").json()["items"]
        assert {t["user_id"] for t in others} == {tier1["id"]}
        assert client.delete(f"/tokens/{narrow.json()['id']}").status_code == 404


def test_token_lifetime_rules(controller: ControllerProcess) -> None:
    with controller.client() as admin:
        default = admin.post("/tokens", json={"name": "default"}).json()
        expires = dt.datetime.fromisoformat(default["expires_at"].replace("Z", "+00:00"))
        assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
        for bad in ("2001-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "2027-01-01T00:00:00"):
            response = admin.post("/tokens", json={"name": "bad", "expires_at": bad})
            assert response.status_code == 422, bad
            assert response.json()["detail"][0]["loc"][-1] == "expires_at"


def test_disabled_users_lose_their_tokens_and_sessions(controller: ControllerProcess) -> None:
    user = _user(controller, "leaver", "tier2", password=PASSWORD)
    token = _token(controller, user["id"])["token"]
    with httpx.Client(base_url=controller.url + "/api/v1") as browser:
        assert (
            browser.post(
                "/auth/login", json={"username": "leaver", "password": PASSWORD}
            ).status_code
            == 200
        )
        with controller.client() as admin:
            assert (
                admin.patch(f"/users/{user['id']}", json={"disabled": True}).json()["disabled"]
                is True
            )
        assert browser.get("/me").status_code == 401
    with _bearer(controller, token) as client:
        assert client.get("/me").status_code == 401
    with httpx.Client(base_url=controller.url + "/api/v1") as browser:
        assert (
            browser.post(
                "/auth/login", json={"username": "leaver", "password": PASSWORD}
            ).status_code
            == 401
        )


def test_console_session_needs_csrf_token_and_same_origin_for_changes(
    controller: ControllerProcess, database: str
) -> None:
    _user(controller, "console-admin", "admin", password=PASSWORD)
    origin = controller.url
    with httpx.Client(base_url=controller.url + "/api/v1") as browser:
        wrong = browser.post(
            "/auth/login", json={"username": "console-admin", "password": "not the password"}
        )
        assert wrong.status_code == 401 and "deskside_session" not in wrong.headers.get(
            "set-cookie", ""
        )
        nobody = browser.post(
            "/auth/login", json={"username": "nobody-at-all", "password": "whatever12345"}
        )
        assert nobody.status_code == 401 and nobody.json() == wrong.json()
        signed_in = browser.post(
            "/auth/login", json={"username": "console-admin", "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        csrf = signed_in.json()["csrf_token"]
        me = browser.get("/me").json()
        assert me["via"] == "session" and me["csrf_token"] == csrf
        sites_before = query(database, "SELECT COUNT(*) FROM sites")[0][0]
        no_csrf = browser.post("/sites", json={"name": "csrf-1"}, headers={"Origin": origin})
        assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.text
        evil = browser.post(
            "/sites",
            json={"name": "csrf-2"},
            headers={"Origin": "https://evil.example", "X-CSRF-Token": csrf},
        )
        assert evil.status_code == 403 and "Origin" in evil.text
        no_origin = browser.post("/sites", json={"name": "csrf-3"}, headers={"X-CSRF-Token": csrf})
        assert no_origin.status_code == 403
        assert query(database, "SELECT COUNT(*) FROM sites")[0][0] == sites_before
        ok = browser.post(
            "/sites", json={"name": "csrf-ok"}, headers={"Origin": origin, "X-CSRF-Token": csrf}
        )
        assert ok.status_code == 201, ok.text
        out = browser.post("/auth/logout", headers={"Origin": origin, "X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert browser.get("/me").status_code == 401
    events = query(
        database,
        "SELECT action FROM audit_events WHERE object_type = 'user' AND action LIKE 'log%'",
    )
    actions = [a for (a,) in events]
    assert actions.count("login_failed") >= 2 and "login" in actions and "logout" in actions


def test_changing_ones_own_password_needs_the_current_one(controller: ControllerProcess) -> None:
    user = _user(controller, "self-service", "requester", password=PASSWORD)
    token = _token(controller, user["id"])["token"]
    with _bearer(controller, token) as client:
        wrong = client.patch(
            "/me", json={"password": "a brand new passphrase", "current_password": "nope"}
        )
        assert (
            wrong.status_code == 422 and wrong.json()["detail"][0]["loc"][-1] == "current_password"
        )
        weak = client.patch("/me", json={"password": "short", "current_password": PASSWORD})
        assert weak.status_code == 422 and weak.json()["detail"][0]["loc"][-1] == "password"
        ok = client.patch(
            "/me",
            json={
                "password": "a brand new passphrase",
                "current_password": PASSWORD,
                "full_name": "Sam",
            },
        )
        assert ok.status_code == 200 and ok.json()["user"]["full_name"] == "Sam"
    with httpx.Client(base_url=controller.url + "/api/v1") as browser:
        assert (
            browser.post(
                "/auth/login", json={"username": "self-service", "password": PASSWORD}
            ).status_code
            == 401
        )
        assert (
            browser.post(
                "/auth/login",
                json={"username": "self-service", "password": "a brand new passphrase"},
            ).status_code
            == 200
        )


def test_a_demoted_owners_old_token_stops_working(controller: ControllerProcess) -> None:
    user = _user(controller, "demoted", "admin")
    token = _token(controller, user["id"])["token"]
    with _bearer(controller, token) as client:
        assert client.get("/audit").status_code == 200
    with controller.client() as admin:
        assert admin.patch(f"/users/{user['id']}", json={"role": "tier1"}).status_code == 200
    with _bearer(controller, token) as client:
        refused = client.get("/me")
        assert refused.status_code == 401 and "exceeds" in refused.text


def test_login_from_a_foreign_page_is_refused(controller: ControllerProcess) -> None:
    _user(controller, "lured", "tier1", password=PASSWORD)
    with httpx.Client(base_url=controller.url + "/api/v1") as browser:
        foreign = browser.post(
            "/auth/login",
            json={"username": "lured", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403 and "set-cookie" not in foreign.headers


def test_a_token_only_account_sets_its_first_password_then_needs_it(
    controller: ControllerProcess,
) -> None:
    user = _user(controller, "token-only", "tier1")
    with _bearer(controller, _token(controller, user["id"])["token"]) as client:
        first = client.patch("/me", json={"password": "my first passphrase"})
        assert first.status_code == 200 and first.json()["user"]["has_password"] is True
        again = client.patch("/me", json={"password": "another passphrase"})
        assert (
            again.status_code == 422 and again.json()["detail"][0]["loc"][-1] == "current_password"
        )
    with httpx.Client(base_url=controller.url + "/api/v1") as browser:
        signed_in = browser.post(
            "/auth/login", json={"username": "token-only", "password": "my first passphrase"}
        )
        assert signed_in.status_code == 200
