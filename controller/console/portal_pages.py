"""The requesters' portal: report a problem, follow one's tickets, answer surveys, run the
few safe fixes allowed on one's own computer, read help articles.

Like the console it only renders what the API answers. The API decides which computer is
"this one" from the address a request comes from: the console's API client calls it with
the browser's own address.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from controller.console.api import ApiError
from controller.console.pages import STOP_POLLING, Api, Me, form_of, render
from controller.runs.service import TERMINAL

router = APIRouter(prefix="/portal")
URGENCIES = (
    (1, "I cannot work at all"),
    (2, "I can work, but slowly or with a workaround"),
    (3, "Hardly: it is a nuisance"),
)


def _redirect(target: str) -> Response:
    return Response(status_code=204, headers={"HX-Redirect": target})


# --- my tickets -------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def my_tickets(request: Request, api: Api, me: Me, state: str = "") -> HTMLResponse:
    mine = me["user"]["id"] if me.get("user") else None
    page = await api.get("/tickets", requester_id=mine, state=state or None, limit=100)
    return render(request, api, "portal.html", section="tickets", tickets=page["items"])


async def ticket_page(request: Request, api: Api, ticket_id: int) -> HTMLResponse:
    context: dict[str, Any] = {
        "ticket": await api.get(f"/tickets/{ticket_id}"),
        "timeline": await api.get(f"/tickets/{ticket_id}/timeline"),
        "survey": await api.get(f"/tickets/{ticket_id}/survey"),
        "fix_runs": await api.get("/self-service/runs", ticket_id=ticket_id),
    }
    return render(
        request, api, "portal_ticket.html", section="tickets", terminal=TERMINAL, **context
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def show_ticket(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    return await ticket_page(request, api, ticket_id)


@router.post("/tickets/{ticket_id}/comment", response_class=HTMLResponse)
async def comment(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    form = await form_of(request)
    await api.post(f"/tickets/{ticket_id}/comments", {"body": form.get("body", ""), "public": True})
    return await ticket_page(request, api, ticket_id)


@router.post("/tickets/{ticket_id}/survey", response_class=HTMLResponse)
async def answer_survey(request: Request, api: Api, me: Me, ticket_id: int) -> HTMLResponse:
    form = await form_of(request)
    rating = form.get("rating", "")
    body = {
        "rating": int(rating) if rating.isdigit() else rating,  # the API names a bad one
        "comment": form.get("comment", ""),
    }
    await api.post(f"/tickets/{ticket_id}/survey", body)
    return await ticket_page(request, api, ticket_id)


# --- report a problem -------------------------------------------------------------------


@router.get("/report", response_class=HTMLResponse)
async def report_page(request: Request, api: Api, me: Me) -> HTMLResponse:
    detected = await api.get("/self-service/this-machine")
    return render(
        request,
        api,
        "portal_report.html",
        section="report",
        machine=detected["machine"],
        urgencies=URGENCIES,
    )


@router.post("/report")
async def report(request: Request, api: Api, me: Me) -> Response:
    form = await form_of(request)
    urgency = form.get("urgency", "")
    body = {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "urgency": int(urgency) if urgency.isdigit() else 3,
        "channel": "portal",
    }
    ticket = await api.post("/tickets", body)
    if form.get("machine"):
        link = {"endpoint_id": form["machine"]}
        # If linking fails the ticket still exists: sending the form again would open a
        # second one. Its page then shows no computer, and the desk asks.
        with contextlib.suppress(ApiError):
            await api.post(f"/self-service/tickets/{ticket['id']}/this-machine", link)
    return _redirect(f"/portal/tickets/{ticket['id']}")


# --- quick fixes ------------------------------------------------------------------------


@router.get("/fixes", response_class=HTMLResponse)
async def fixes_page(request: Request, api: Api, me: Me) -> HTMLResponse:
    detected = await api.get("/self-service/this-machine")
    return render(
        request,
        api,
        "portal_fixes.html",
        section="fixes",
        machine=detected["machine"],
        fixes=await api.get("/self-service/fixes"),
        recent=await api.get("/self-service/runs"),
        terminal=TERMINAL,
    )


@router.post("/fixes/{fix_id}", response_class=HTMLResponse)
async def run_fix(request: Request, api: Api, me: Me, fix_id: str) -> HTMLResponse:
    form = await form_of(request)
    body = {"endpoint_id": form.get("endpoint_id", ""), "confirm": form.get("confirm") == "on"}
    started = await api.post(f"/self-service/fixes/{fix_id}", body)
    return render(request, api, "_portal_fix_run.html", run=started["run"], terminal=TERMINAL)


@router.get("/fix-runs/{run_id}", response_class=HTMLResponse)
async def fix_run(request: Request, api: Api, me: Me, run_id: str) -> Response:
    run = await api.get(f"/self-service/runs/{run_id}")
    response = render(request, api, "_portal_fix_run.html", run=run, terminal=TERMINAL)
    if run["state"] in TERMINAL:
        response.status_code = STOP_POLLING
    return response


# --- help articles ----------------------------------------------------------------------


@router.get("/help", response_class=HTMLResponse)
async def help_index(request: Request, api: Api, me: Me, q: str = "") -> HTMLResponse:
    if q.strip():
        articles = (await api.get("/kb/search", q=q.strip()))["items"]
    else:
        articles = (await api.get("/kb", state="published", limit=50))["items"]
    return render(request, api, "portal_help.html", section="help", articles=articles, q=q)


@router.get("/help/{article_id}", response_class=HTMLResponse)
async def help_article(request: Request, api: Api, me: Me, article_id: int) -> HTMLResponse:
    article = await api.get(f"/kb/{article_id}")
    return render(request, api, "portal_article.html", section="help", article=article)
