"""Endpoints: the list, filtered, and each machine's page (facts, inventory changes, services
and processes, checks, runs, open tickets, and a quick run)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controller.console.api import ApiError
from controller.console.pages import Api, Me, render, templates
from controller.runs.service import TERMINAL

router = APIRouter()
FILTERS = ("site", "tag", "os", "online")
CHANGES_PAGE = 10


def _size(value: Any) -> str:
    """Bytes as people read them: 23.5 GiB."""
    if not isinstance(value, int | float):
        return ""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return ""


def _uptime(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"


def _moment(value: str | None) -> str:
    """To the second: inventories may come minutes apart, or seconds."""
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["size"] = _size
templates.env.filters["moment"] = _moment
templates.env.filters["uptime"] = _uptime


@router.get("/endpoints", response_class=HTMLResponse)
async def endpoint_list(request: Request, api: Api, me: Me, cursor: str = "") -> HTMLResponse:
    filters = {key: request.query_params.get(key, "").strip() for key in FILTERS}
    page = await api.get("/endpoints", **filters, cursor=cursor, limit=100)
    sites = (await api.get("/sites", limit=500))["items"]
    next_url = "/endpoints?" + urlencode({**filters, "cursor": page["next_cursor"] or ""})
    return render(
        request,
        api,
        "endpoints.html",
        section="endpoints",
        endpoints=page["items"],
        sites=sites,
        filters=filters,
        next_cursor=page["next_cursor"],
        next_url=next_url,
    )


async def _optional(api: Api, path: str, **params: Any) -> Any:
    """What the API answers, or None where it has nothing yet (no inventory received)."""
    try:
        return await api.get(path, **params)
    except ApiError as error:
        if error.status == 404:
            return None
        raise


@router.get("/endpoints/{endpoint_id}", response_class=HTMLResponse)
async def endpoint_page(request: Request, api: Api, me: Me, endpoint_id: str) -> HTMLResponse:
    allowed = set(me["permissions"])
    endpoint = await api.get(f"/endpoints/{endpoint_id}")
    inventory = await _optional(api, f"/endpoints/{endpoint_id}/inventory")
    changes = await api.get(f"/endpoints/{endpoint_id}/inventory/changes", limit=CHANGES_PAGE)
    context: dict[str, Any] = {
        "endpoint": endpoint,
        "inv": (inventory or {}).get("sections", {}),
        "inventory": inventory,
        "changes": changes,
        "checks": None,
        "runs": None,
        "tickets": None,
        "terminal": TERMINAL,
    }
    if "checks:read" in allowed:
        context["checks"] = await api.get(f"/endpoints/{endpoint_id}/checks")
    if "runs:read" in allowed:
        context["runs"] = (await api.get("/runs", endpoint_id=endpoint_id, limit=20))["items"]
    if "tickets:read" in allowed:
        tickets = await api.get("/tickets", endpoint_id=endpoint_id, state="open", limit=50)
        context["tickets"] = tickets["items"]
    if "runs:create" in allowed:
        context["actions"] = await api.get("/actions")
        context["playbooks"] = await api.get("/playbooks")
    return render(request, api, "endpoint.html", section="endpoints", **context)


@router.get("/endpoints/{endpoint_id}/changes", response_class=HTMLResponse)
async def endpoint_changes(
    request: Request, api: Api, me: Me, endpoint_id: str, before: str = ""
) -> HTMLResponse:
    """Older inventory changes, appended to the page's list by htmx."""
    changes = await api.get(
        f"/endpoints/{endpoint_id}/inventory/changes", limit=CHANGES_PAGE, before=before
    )
    endpoint = {"id": endpoint_id}
    return render(
        request, api, "_endpoint_changes.html", changes=changes, endpoint=endpoint, older=True
    )
