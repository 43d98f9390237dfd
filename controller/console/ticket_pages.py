"""A ticket: its timeline, comments, state changes, assignment, escalation and run panel."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controller.console.pages import Api, Me, form_int, form_of, render
from controller.console.queue_pages import user_names
from controller.desk.lifecycle import MOVES, STATES
from controller.playbooks.engine import TERMINAL as PLAYBOOK_ENDED
from controller.runs.service import TERMINAL

router = APIRouter()


async def ticket_page(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    staff = "tickets:read" in me["permissions"]
    ticket, timeline = await asyncio.gather(
        api.get(f"/tickets/{ticket_id}"), api.get(f"/tickets/{ticket_id}/timeline")
    )
    context: dict[str, Any] = {"ticket": ticket, "timeline": timeline, "staff": staff}
    context["next_states"] = [s for s in STATES if s in MOVES[ticket["state"]]]
    if staff:
        context.update(await _staff_context(api, me, ticket))
    return render(request, api, "ticket.html", section="queue", **context)


async def _staff_context(api: Api, me: Me, ticket: dict[str, Any]) -> dict[str, Any]:
    """What the side panel needs, fetched at once: the calls do not depend on each other."""
    ticket_id, endpoint_ids = ticket["id"], ticket.get("endpoint_ids", [])
    teams, users, suggestions, *endpoints = await asyncio.gather(
        api.get("/teams", limit=200),
        user_names(api, me),
        api.get(f"/tickets/{ticket_id}/suggestions"),
        *(api.get(f"/endpoints/{eid}") for eid in endpoint_ids),
    )
    context: dict[str, Any] = {
        "teams": teams["items"],
        "users": users,
        "suggestions": suggestions["items"],
        "endpoints": endpoints,
    }
    if endpoints and "runs:create" in me["permissions"]:
        actions, playbooks, runs, books = await asyncio.gather(
            api.get("/actions"),
            api.get("/playbooks"),
            api.get("/runs", ticket_id=ticket_id, limit=50),
            api.get("/playbook-runs", ticket_id=ticket_id, limit=50),
        )
        context.update(
            actions=actions,
            playbooks=playbooks,
            runs=runs["items"],
            terminal=TERMINAL,
            playbook_runs=books["items"],
            playbook_ended=PLAYBOOK_ENDED,
        )
    return context


@router.get("/tickets/new", response_class=HTMLResponse)
async def new_ticket_page(request: Request, api: Api, me: Me, endpoint: str = "") -> Response:
    teams = (await api.get("/teams", limit=200))["items"]
    return render(request, api, "ticket_new.html", section="queue", teams=teams, endpoint=endpoint)


@router.post("/tickets/new")
async def new_ticket(request: Request, api: Api, me: Me) -> Response:
    form = await form_of(request)
    body: dict[str, Any] = {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "channel": form.get("channel", "phone"),
        "impact": form_int(form.get("impact")) or 3,
        "urgency": form_int(form.get("urgency")) or 3,
        "team_id": form_int(form.get("team_id")),
        "requester_name": form.get("requester_name", ""),
        "requester_email": form.get("requester_email", ""),
        "endpoint_ids": [e for e in form.get("endpoint_id", "").split() if e],
    }
    ticket = await api.post("/tickets", body)
    return Response(status_code=204, headers={"HX-Redirect": f"/tickets/{ticket['id']}"})


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def show(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    return await ticket_page(request, api, me, ticket_id)


@router.post("/tickets/{ticket_id}/comment", response_class=HTMLResponse)
async def comment(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    form = await form_of(request)
    body = {"body": form.get("body", ""), "public": form.get("internal") != "on"}
    await api.post(f"/tickets/{ticket_id}/comments", body)
    return await ticket_page(request, api, me, ticket_id)


@router.post("/tickets/{ticket_id}/transition", response_class=HTMLResponse)
async def transition(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    form = await form_of(request)
    body = {
        "state": form.get("state", ""),
        "reason": form.get("reason") or None,
        "resolution": form.get("resolution", ""),
    }
    await api.post(f"/tickets/{ticket_id}/transition", body)
    return await ticket_page(request, api, me, ticket_id)


@router.post("/tickets/{ticket_id}/assign", response_class=HTMLResponse)
async def assign(request: Request, api: Api, me: Me, ticket_id: int) -> Response:
    form = await form_of(request)
    assignee = me["user"]["id"] if form.get("take") else form_int(form.get("assignee_id"))
    body = {"team_id": form_int(form.get("team_id")), "assignee_id": assignee}
    await api.post(f"/tickets/{ticket_id}/assign", body)
    return await ticket_page(request, api, me, ticket_id)


@router.post("/tickets/{ticket_id}/escalate", response_class=HTMLResponse)
async def escalate(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    form = await form_of(request)
    body = {
        "team_id": form_int(form.get("team_id")),
        "kind": form.get("kind") or None,
        "reason": form.get("reason", ""),
        "vendor_reference": form.get("vendor_reference", ""),
    }
    await api.post(f"/tickets/{ticket_id}/escalate", body)
    return await ticket_page(request, api, me, ticket_id)


@router.get("/tickets", response_class=HTMLResponse)
async def tickets_index() -> Response:
    return RedirectResponse("/?view=all", status_code=303)
