"""What every console page shares: templates, the API as the signed-in user, forms, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from controller.console.api import ApiError, ConsoleApi

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
PRIORITY_NAMES = {1: "critical", 2: "high", 3: "medium", 4: "low", 5: "planning"}


def _when(value: str | None) -> str:
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _due(value: str | None) -> str:
    """'in 3 h 10 min' or '25 min ago': how an analyst reads an SLA clock."""
    if not value:
        return ""
    seconds = int((dt.datetime.fromisoformat(value) - dt.datetime.now(dt.UTC)).total_seconds())
    span = abs(seconds)
    text = f"{span // 86400} d" if span >= 86400 else ""
    if span < 86400:
        hours, minutes = divmod(span // 60, 60)
        text = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


templates.env.filters["when"] = _when
templates.env.filters["due"] = _due
templates.env.globals["priority_names"] = PRIORITY_NAMES


async def api_for(request: Request) -> AsyncIterator[ConsoleApi]:
    api = ConsoleApi(request)
    try:
        yield api
    finally:
        await api.aclose()


Api = Annotated[ConsoleApi, Depends(api_for)]


STOP_POLLING = 286  # htmx: an element polling with hx-trigger="every ..." stops asking


def form_int(value: str | None) -> int | None:
    """A form field holding an id or a number; blank or not digits: None."""
    return int(value) if value and value.strip().isdigit() else None


def form_ints(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().isdigit()]


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded form as field -> last value (multi-valued fields: form_lists)."""
    return {key: values[-1] for key, values in (await form_lists(request)).items()}


async def form_lists(request: Request) -> dict[str, list[str]]:
    return parse_qs((await request.body()).decode(), keep_blank_values=True)


def render(
    request: Request, api: ConsoleApi, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, {"me": getattr(request.state, "me", None), **context}, status_code
    )
    for cookie in api.set_cookie:
        response.headers.append("set-cookie", cookie)
    return response


async def signed_in(request: Request, api: Api) -> dict[str, Any]:
    """The caller as /me answers; not signed in ends in the login page (see console_errors)."""
    me: dict[str, Any] = await api.get("/me")
    request.state.me = me
    return me


Me = Annotated[dict[str, Any], Depends(signed_in)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def problem(request: Request, exc: ApiError) -> Response:
    """A fragment's error goes to the page's alert region; a page's error is a page."""
    if exc.status == 401:
        target = "/login?next=" + quote(request.url.path)
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if is_htmx(request):
        response = templates.TemplateResponse(request, "_alert.html", {"error": exc})
        response.headers["HX-Retarget"] = "#alerts"
        response.headers["HX-Reswap"] = "innerHTML"
        response.headers["HX-Reselect"] = ".alert"  # the form may hx-select its own part
        return response
    return templates.TemplateResponse(
        request,
        "error.html",
        {"error": exc, "me": getattr(request.state, "me", None)},
        status_code=exc.status,
    )


def install(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return problem(request, exc)

    app.add_exception_handler(ApiError, handle)
