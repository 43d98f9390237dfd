"""The fleet by site and by tag, bulk runs on a site, a tag or ticked endpoints, and a batch's
progress, which refreshes itself until every run has ended."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from controller.console.pages import STOP_POLLING, Api, Me, form_lists, render
from controller.console.run_panel import params_of
from controller.runs.service import TERMINAL

router = APIRouter()
# How a batch's runs are counted on its progress page: the states a person tells apart.
TALLIES = {
    "queued": ("queued", "sent"),
    "running": ("running",),
    "succeeded": ("succeeded",),
    "failed": ("failed", "expired", "interrupted"),
    "cancelled": ("cancelled",),
}


async def _all_pages(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await api.get(path, **params, cursor=cursor, limit=1000)
        items.extend(page["items"])
        cursor = page["next_cursor"] or ""
        if not cursor:
            return items


@router.get("/fleet", response_class=HTMLResponse)
async def fleet(request: Request, api: Api, me: Me, site: str = "", tag: str = "") -> HTMLResponse:
    groups = await api.get("/fleet/groups")
    # The endpoints to tick: the chosen site's or tag's, else the first page of all.
    page = await api.get("/endpoints", site=site, tag=tag, limit=200)
    target = "site" if site else "tag" if tag else "endpoints"
    context: dict[str, Any] = {
        "groups": groups,
        "endpoints": page["items"],
        "more_endpoints": bool(page["next_cursor"]),
        "chosen": {"site": site, "tag": tag, "target": target},
    }
    if "runs:create" in me["permissions"]:
        context["actions"] = await api.get("/actions")
    return render(request, api, "fleet.html", section="fleet", **context)


def _selector(form: dict[str, list[str]], one: dict[str, str]) -> dict[str, Any]:
    """The runs' target as the API takes it: a site, a tag, or the ticked endpoints."""
    target = one.get("target", "")
    if target == "site":
        return {"site": one.get("site", "")}
    if target == "tag":
        return {"tags": [one["tag"]] if one.get("tag") else []}
    # None rather than []: nothing ticked is then refused by the API, which names the field
    # (an empty list would make an empty batch).
    return {"endpoint_ids": [e for e in form.get("endpoint_ids", []) if e] or None}


@router.post("/fleet/runs")
async def bulk_run(request: Request, api: Api, me: Me) -> Response:
    form = await form_lists(request)
    one = {key: values[-1] for key, values in form.items()}
    action = one.get("action", "")
    spec = next((a for a in await api.get("/actions") if a["name"] == action), None)
    body: dict[str, Any] = {
        "action": action,
        "params": params_of(form, spec["params"]) if spec else {},
        "dry_run": one.get("mode") == "preview",
        "reason": one.get("reason", ""),
        **_selector(form, one),
    }
    created = await api.post("/runs", body)
    return Response(
        status_code=204, headers={"HX-Redirect": f"/fleet/batches/{created['batch_id']}"}
    )


async def _progress(api: Api, batch_id: str) -> dict[str, Any]:
    runs = await _all_pages(api, "/runs", batch=batch_id)
    hosts = {e["id"]: e for e in await _all_pages(api, "/endpoints")}
    tallies = {name: sum(r["state"] in states for r in runs) for name, states in TALLIES.items()}
    ended = sum(r["state"] in TERMINAL for r in runs)
    return {
        "batch_id": batch_id,
        "runs": sorted(runs, key=lambda r: hosts.get(r["endpoint_id"], {}).get("hostname", "")),
        "hosts": hosts,
        "tallies": tallies,
        "ended": ended,
        "finished": ended == len(runs),
        "terminal": TERMINAL,
    }


@router.get("/fleet/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, api: Api, me: Me, batch_id: str) -> HTMLResponse:
    progress = await _progress(api, batch_id)
    return render(request, api, "fleet_batch.html", section="fleet", **progress)


@router.get("/fleet/batches/{batch_id}/progress", response_class=HTMLResponse)
async def batch_progress(request: Request, api: Api, me: Me, batch_id: str) -> HTMLResponse:
    progress = await _progress(api, batch_id)
    response = render(request, api, "_fleet_progress.html", **progress)
    if progress["finished"]:
        response.status_code = STOP_POLLING
    return response
