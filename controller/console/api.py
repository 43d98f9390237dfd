"""The console's only way to its data: the REST API, called in-process as the signed-in user.

The console has no logic of its own. Every page is what the API answers for the browser's
session cookie, and every change goes through the API with the session's CSRF token and the
browser's Origin, so the API's permission, site-scope, validation and CSRF checks are the
console's too.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from controller.api.deps import CSRF_HEADER, SESSION_COOKIE

FORWARDED = ("cookie", "origin", "referer", "user-agent", "x-request-id")


class ApiError(Exception):
    """The API refused: status and its message; field names the input it blamed, if any."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _error(response: httpx.Response) -> ApiError:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
        field = ".".join(loc) or None
        message = f"{field}: {first.get('msg', '')}" if field else str(first.get("msg", ""))
        return ApiError(response.status_code, message, field)
    return ApiError(response.status_code, str(detail or response.reason_phrase))


class ConsoleApi:
    """httpx against the app itself, carrying the browser's cookie, Origin and CSRF token."""

    def __init__(self, request: Request, csrf_token: str | None = None) -> None:
        headers = {name: value for name in FORWARDED if (value := request.headers.get(name))}
        token = csrf_token or request.headers.get(CSRF_HEADER)
        if token:
            headers[CSRF_HEADER] = token
        # The browser's own address, not the in-process 127.0.0.1: the API logs it, and the
        # portal recognises the requester's computer by it.
        client = (request.client.host, request.client.port) if request.client else None
        transport = httpx.ASGITransport(app=request.app, client=client or ("127.0.0.1", 123))
        self._client = httpx.AsyncClient(
            transport=transport,
            base_url=f"{request.url.scheme}://{request.headers.get('host', 'localhost')}/api/v1",
            headers=headers,
            timeout=330,  # above the API's own longest wait (runs' wait_s)
        )
        self.set_cookie: list[str] = []

    @property
    def signed_in(self) -> bool:
        return SESSION_COOKIE in self._client.headers.get("cookie", "")

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._client.request(method, path, **kwargs)
        self.set_cookie.extend(response.headers.get_list("set-cookie"))
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, path: str, **params: Any) -> Any:
        query = {key: value for key, value in params.items() if value not in (None, "")}
        return await self.call("GET", path, params=query)

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return await self.call("POST", path, json=body, params=params or None)

    async def patch(self, path: str, body: Any) -> Any:
        return await self.call("PATCH", path, json=body)

    async def delete(self, path: str) -> Any:
        return await self.call("DELETE", path)

    async def aclose(self) -> None:
        await self._client.aclose()
