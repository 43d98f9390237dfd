"""The knowledge base through a real controller: write, edit, publish, find as a requester;
and the refusals (403, 404, 409, 422) that change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from processes import ControllerProcess
from sql import query


def _client(controller: ControllerProcess, tokens: dict[str, str], role: str) -> httpx.Client:
    return controller.client(tokens[role])


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _new(controller: ControllerProcess, tokens: dict[str, str], **body: Any) -> dict[str, Any]:
    with _client(controller, tokens, "tier1") as tier1:
        created = tier1.post("/kb", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_write_edit_publish_and_find_as_a_requester(
    controller: ControllerProcess, role_tokens: dict[str, str]
) -> None:
    tier1 = _client(controller, role_tokens, "tier1")
    tier2 = _client(controller, role_tokens, "tier2")
    requester = _client(controller, role_tokens, "requester")
    with tier1, tier2, requester:
        article = _new(
            controller,
            role_tokens,
            title="Wi-Fi drops in meeting rooms",
            body="Forget the flamingo network and join again.",
            tags=["WiFi", "network"],
            playbooks=["wifi.reset"],
        )
        path = f"/kb/{article['id']}"
        assert (article["state"], article["version"], article["tags"]) == (
            "draft",
            1,
            ["wifi", "network"],
        )
        assert requester.get(path).status_code == 404
        assert _ids(requester.get("/kb/search", params={"q": "flamingo"})) == []

        edited = tier1.patch(path, json={"body": "Forget the heron network and join again."})
        assert edited.status_code == 200, edited.text
        assert edited.json()["version"] == 2
        versions = tier1.get(f"{path}/versions")
        assert [v["version"] for v in versions.json()["items"]] == [2, 1]

        published = tier2.post(f"{path}/publish")
        assert published.status_code == 200, published.text
        assert published.json()["state"] == "published"

        found = requester.get("/kb/search", params={"q": "Heron network"})
        assert _ids(found) == [article["id"]]
        assert "heron" in found.json()["items"][0]["excerpt"]
        assert _ids(requester.get("/kb/search", params={"q": "flamingo"})) == []
        assert requester.get(path).json()["body"].startswith("Forget the heron")
        assert article["id"] in _ids(requester.get("/kb", params={"tag": "wifi"}))
        suggested = requester.get(
            "/kb/suggest", params={"text": "Hi, the wifi keeps dropping, heron network gone"}
        )
        assert _ids(suggested) == [article["id"]]

        # A publisher's edit of a published article goes live as a new version.
        live = tier2.patch(path, json={"title": "Wi-Fi drops (heron network)"})
        assert (live.json()["state"], live.json()["version"]) == ("published", 3)

        with _client(controller, role_tokens, "admin") as admin:
            trail = admin.get(
                "/audit", params={"object_type": "kb_article", "object_id": str(article["id"])}
            )
        assert [e["action"] for e in trail.json()["items"]] == [
            "update",
            "publish",
            "update",
            "create",
        ]

        unpublished = tier2.post(f"{path}/unpublish")
        assert unpublished.json()["state"] == "draft"
        assert _ids(requester.get("/kb/search", params={"q": "heron"})) == []
        assert _ids(tier1.get("/kb/search", params={"q": "heron"})) == [article["id"]]


@pytest.mark.parametrize("q", ['"', '"heron', "heron*", "NEAR(heron", "heron OR", "-x", "a:b"])
def test_search_text_is_never_syntax(
    controller: ControllerProcess, role_tokens: dict[str, str], q: str
) -> None:
    with _client(controller, role_tokens, "requester") as requester:
        response = requester.get("/kb/search", params={"q": q})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:  # nothing but punctuation
        assert q == '"'
        assert "q" in response.json()["detail"][0]["loc"]


def test_refusals(controller: ControllerProcess, role_tokens: dict[str, str]) -> None:
    draft = _new(controller, role_tokens, title="Printer offline", body="Power cycle it.")
    path = f"/kb/{draft['id']}"
    with (
        _client(controller, role_tokens, "requester") as requester,
        _client(controller, role_tokens, "auditor") as auditor,
        _client(controller, role_tokens, "tier1") as tier1,
        _client(controller, role_tokens, "tier2") as tier2,
    ):
        assert requester.post("/kb", json={"title": "t", "body": "b"}).status_code == 403
        assert auditor.post("/kb", json={"title": "t", "body": "b"}).status_code == 403
        assert requester.get(f"{path}/versions").status_code == 403
        assert tier1.post(f"{path}/publish").status_code == 403
        assert tier2.post(f"{path}/publish").status_code == 200
        assert tier2.post(f"{path}/publish").status_code == 409
        assert tier1.patch(path, json={"body": "Unplug it."}).status_code == 403
        assert tier2.post(f"{path}/unpublish").status_code == 200
        assert requester.get(path).status_code == 404
        for response in (
            tier1.get("/kb/987654"),
            tier1.patch("/kb/987654", json={"body": "x"}),
            tier1.get("/kb/987654/versions"),
            tier2.post("/kb/987654/publish"),
            tier2.post("/kb/987654/unpublish"),
        ):
            assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("POST", "/kb", {"title": "", "body": "b"}, "title"),
        ("POST", "/kb", {"title": "t"}, "body"),
        ("POST", "/kb", {"title": "t", "body": "b" * 100_001}, "body"),
        ("POST", "/kb", {"title": "t", "body": "b", "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ("POST", "/kb", {"title": "t", "body": "b", "playbooks": ["rm -rf /"]}, "playbooks"),
        ("POST", "/kb", {"title": "t", "body": "b", "category_id": 987654}, "category_id"),
        ("PATCH", "/kb/{id}", {"title": None}, "title"),
        ("PATCH", "/kb/{id}", {"body": " "}, "body"),
        ("GET", "/kb/search", {}, "q"),
        ("GET", "/kb/search?q=*", {}, "q"),
        ("GET", "/kb/search?q=vpn&limit=0", {}, "limit"),
        ("GET", "/kb/suggest", {}, "text"),
        ("GET", "/kb?state=gone", {}, "state"),
        ("GET", "/kb?category_id=987654", {}, "category_id"),
        ("GET", "/kb?cursor=nonsense", {}, "cursor"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    controller: ControllerProcess,
    role_tokens: dict[str, str],
    database: str,
    method: str,
    path: str,
    payload: dict[str, Any],
    field: str,
) -> None:
    target = _new(controller, role_tokens, title="Target", body="Unchanged.")
    counts = "SELECT (SELECT COUNT(*) FROM kb_articles), (SELECT COUNT(*) FROM kb_article_versions)"
    before = query(database, counts)
    with _client(controller, role_tokens, "tier2") as tier2:
        kwargs = {"json": payload} if method != "GET" else {}
        response = tier2.request(method, path.replace("{id}", str(target["id"])), **kwargs)
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"][0]["loc"], response.text
        assert tier2.get(f"/kb/{target['id']}").json()["body"] == "Unchanged."
    assert query(database, counts) == before
