"""Fixtures shared by the integration suites: one real controller per module and backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databases import BACKENDS, fresh_database
from processes import ControllerProcess


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        yield url


@pytest.fixture(scope="module")
def controller(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    process = ControllerProcess(tmp_path_factory.mktemp("controller"), database).start()
    yield process
    assert process.stop() == 0, process.log()
    assert "stopped" in process.log()


ROLES = ["requester", "tier1", "tier2", "usa", "admin", "auditor"]


@pytest.fixture(scope="module")
def role_tokens(controller: ControllerProcess) -> dict[str, str]:
    """An API token for a user of each role (the usa user manages one site of its own)."""
    tokens: dict[str, str] = {}
    with controller.client() as admin:
        site = admin.post("/sites", json={"name": f"site-of-usa-{id(tokens)}"})
        assert site.status_code == 201, site.text
        for role in ROLES:
            body: dict[str, object] = {"username": f"{role}-{id(tokens)}", "role": role}
            if role == "usa":
                body["site_ids"] = [site.json()["id"]]
            user = admin.post("/users", json=body)
            assert user.status_code == 201, user.text
            token = admin.post("/tokens", json={"name": "tests", "user_id": user.json()["id"]})
            assert token.status_code == 201, token.text
            tokens[role] = token.json()["token"]
    return tokens


from browser import chromium, page, phone  # noqa: E402, F401  (for the console suites)
