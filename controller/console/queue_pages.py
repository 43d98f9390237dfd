"""The queues: mine, unassigned, each team's, all open; filtered, with SLA badges."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controller.console.pages import Api, Me, render

router = APIRouter()
FILTERS = ("priority", "sla_state", "site_id", "breaching_within_s")


async def user_names(api: Api, me: dict[str, Any]) -> dict[int, str]:
    if "users:read" not in me["permissions"]:
        return {}
    page = await api.get("/users", limit=500)
    return {u["id"]: u["full_name"] or u["username"] for u in page["items"]}


@router.get("/", response_class=HTMLResponse)
async def queue(
    request: Request, api: Api, me: Me, view: str = "mine", cursor: str = ""
) -> HTMLResponse:
    filters = {key: request.query_params.get(key, "") for key in FILTERS}
    query: dict[str, Any] = {"state": "open", **filters, "cursor": cursor, "limit": 50}
    title = "My queue"
    if view == "mine":
        query["mine"] = "true"
    elif view == "unassigned":
        query["unassigned"], title = "true", "Unassigned"
    elif view.startswith("team-") and view[5:].isdigit():
        query["team_id"], title = view[5:], "Team"
    else:
        view, title = "all", "All open tickets"
    # Independent calls, made at once: the page costs the slowest, not their sum.
    teams_page, page, sites_page, users = await asyncio.gather(
        api.get("/teams", limit=200),
        api.get("/tickets", **query),
        api.get("/sites", limit=500),
        user_names(api, me),
    )
    teams, sites = teams_page["items"], sites_page["items"]
    if "team_id" in query:
        title = next((t["name"] for t in teams if str(t["id"]) == query["team_id"]), title)
    next_url = "/?" + urlencode({"view": view, **filters, "cursor": page["next_cursor"] or ""})
    return render(
        request,
        api,
        "queue.html",
        section="queue",
        view=view,
        view_title=title,
        teams=teams,
        sites=sites,
        filters=filters,
        tickets=page["items"],
        users=users,
        next_cursor=page["next_cursor"],
        next_url=next_url,
    )
