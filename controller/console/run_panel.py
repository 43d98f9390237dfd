"""'Run on this machine': catalogue actions and playbooks, previews, approvals, live output."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from controller.console.pages import STOP_POLLING, Api, Me, form_int, form_lists, render
from controller.playbooks.engine import TERMINAL as PLAYBOOK_ENDED
from controller.runs.service import TERMINAL

router = APIRouter()
PARAM = "param."


def _typed(schema: dict[str, Any], raw: list[str]) -> Any:
    """A form's text as the JSON type the parameter's schema names; the API validates it."""
    kind = schema.get("type") or next(
        (option.get("type") for option in schema.get("anyOf", []) if option.get("type") != "null"),
        "string",
    )
    if kind == "array":
        return [item.strip() for text in raw for item in text.splitlines() if item.strip()]
    value = raw[-1]
    if kind == "boolean":
        return value in ("on", "true", "1")
    if kind in ("integer", "number") and value.strip():
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            return value  # the API names the field and says what it wants
    return value


def params_of(form: dict[str, list[str]], schema: dict[str, Any]) -> dict[str, Any]:
    fields = schema.get("properties", {})
    params: dict[str, Any] = {}
    for name, field in fields.items():
        raw = form.get(PARAM + name)
        if field.get("type") == "boolean":
            params[name] = bool(raw) and _typed(field, raw or [""])
        elif raw and any(value != "" for value in raw):
            params[name] = _typed(field, raw)
    return params


async def run_card(request: Request, api: Api, me: Me, run_id: str) -> HTMLResponse:
    run = await api.get(f"/runs/{run_id}")
    return render(request, api, "_run.html", run=run, terminal=TERMINAL)


@router.get("/console/action-fields", response_class=HTMLResponse)
async def action_fields(
    request: Request, api: Api, me: Me, action: str = "", scope: str = "one"
) -> HTMLResponse:
    """The action's fields and buttons; scope "bulk" words them for a fleet-wide run."""
    spec = next((a for a in await api.get("/actions") if a["name"] == action), None)
    return render(
        request, api, "_params.html", spec=spec, scope="bulk" if scope == "bulk" else "one"
    )


@router.get("/console/playbook-fields", response_class=HTMLResponse)
async def playbook_fields(request: Request, api: Api, me: Me, playbook: str = "") -> HTMLResponse:
    book = await api.get(f"/playbooks/{playbook}") if playbook else None
    return render(request, api, "_playbook_inputs.html", book=book)


@router.post("/console/runs", response_class=HTMLResponse)
async def start_run(request: Request, api: Api, me: Me) -> HTMLResponse:
    form = await form_lists(request)
    one = {key: values[-1] for key, values in form.items()}
    action = one.get("action", "")
    spec = next((a for a in await api.get("/actions") if a["name"] == action), None)
    body: dict[str, Any] = {
        "endpoint_id": one.get("endpoint_id"),
        "action": action,
        "params": params_of(form, spec["params"]) if spec else {},
        "dry_run": one.get("mode") == "preview",
        "ticket_id": form_int(one.get("ticket_id")),
        "reason": one.get("reason", ""),
    }
    created = await api.post("/runs", body)
    return render(request, api, "_runs.html", runs=created["items"], terminal=TERMINAL)


@router.post("/console/playbook-runs", response_class=HTMLResponse)
async def start_playbook(request: Request, api: Api, me: Me) -> HTMLResponse:
    form = await form_lists(request)
    one = {key: values[-1] for key, values in form.items()}
    name = one.get("playbook", "")
    declared = (await api.get(f"/playbooks/{name}"))["inputs"] if name else {}
    inputs = {
        key: _typed({"type": "integer" if field.get("type") == "int" else "string"}, [text])
        for key, field in declared.items()
        if (text := one.get(PARAM + key, "")) != ""
    }
    body = {
        "playbook": name,
        "endpoint_id": one.get("endpoint_id"),
        "inputs": inputs,
        "dry_run": one.get("mode") == "preview",
        "ticket_id": form_int(one.get("ticket_id")),
    }
    created = await api.post("/playbook-runs", body)
    items = created["items"]
    return render(request, api, "_playbook_runs.html", items=items, terminal=PLAYBOOK_ENDED)


@router.get("/console/runs/{run_id}", response_class=HTMLResponse)
async def card(request: Request, api: Api, me: Me, run_id: str) -> HTMLResponse:
    return await run_card(request, api, me, run_id)


@router.get("/console/playbook-runs/{run_id}", response_class=HTMLResponse)
async def playbook_card(request: Request, api: Api, me: Me, run_id: str) -> Response:
    run = await api.get(f"/playbook-runs/{run_id}")
    response = render(request, api, "_playbook_runs.html", items=[run], terminal=PLAYBOOK_ENDED)
    if run["state"] in PLAYBOOK_ENDED:
        response.status_code = STOP_POLLING
    return response


@router.post("/console/runs/{run_id}/{decision}", response_class=HTMLResponse)
async def decide(request: Request, api: Api, me: Me, run_id: str, decision: str) -> Response:
    if decision not in ("approve", "deny", "cancel"):
        return Response(status_code=404)
    await api.post(f"/runs/{run_id}/{decision}")
    return await run_card(request, api, me, run_id)
