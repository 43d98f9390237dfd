"""Sign in and out: the API's console session, its cookie passed on to the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controller.console.api import ApiError, ConsoleApi
from controller.console.pages import Api, form_of, render

router = APIRouter()


def _local(path: str) -> str:
    """Only a path on this site: a login link must not send people elsewhere."""
    return path if path.startswith("/") and not path.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, api: Api, next: str = "/") -> Response:
    return render(request, api, "login.html", next=_local(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, api: Api) -> Response:
    form = await form_of(request)
    target = _local(form.get("next", "/"))
    body = {"username": form.get("username", ""), "password": form.get("password", "")}
    try:
        signed = await api.post("/auth/login", body)
    except ApiError as exc:
        status = exc.status if exc.status in (401, 403, 422) else 400
        message = "Wrong username or password." if exc.status == 401 else exc.message
        return render(
            request,
            api,
            "login.html",
            status,
            next=target,
            error=message,
            username=body["username"],
        )
    if signed["role"] == "requester" and target == "/":
        target = "/portal"
    response = RedirectResponse(target, status_code=303)
    for cookie in api.set_cookie:
        response.headers.append("set-cookie", cookie)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await form_of(request)
    api = ConsoleApi(request, csrf_token=form.get("csrf_token"))
    try:
        await api.post("/auth/logout")
    except ApiError as exc:
        if exc.status != 401:  # already signed out is signed out
            raise
    finally:
        await api.aclose()
    response = RedirectResponse("/login", status_code=303)
    for cookie in api.set_cookie:
        response.headers.append("set-cookie", cookie)
    return response
