"""The analyst CLI's way to the REST API: one client, errors turned into exit codes.

Exit codes: 1 the API refused or failed, 2 bad usage or configuration, 3 not found.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

console = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


DEFAULT_URL = "http://127.0.0.1:8000"


def login_file() -> Path:
    """Where `deskside login` keeps the controller's URL and the token (mode 0600)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "deskside" / "login.json"


def saved_login() -> dict[str, str]:
    try:
        saved = json.loads(login_file().read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in saved.items() if k in ("url", "token") and isinstance(v, str)}


def client_for(base: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base.rstrip('/')}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _client() -> httpx.Client:
    """DESKSIDE_URL and DESKSIDE_TOKEN when set (they win), else the saved login."""
    saved = saved_login()
    token = os.environ.get("DESKSIDE_TOKEN") or saved.get("token")
    if not token:
        console.print("[red]deskside:[/] set DESKSIDE_TOKEN to your API token, or `deskside login`")
        raise typer.Exit(2)
    return client_for(os.environ.get("DESKSIDE_URL") or saved.get("url") or DEFAULT_URL, token)


def call(
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    body: Any = None,
    timeout: float = 30,
) -> Any:
    """The API's answer (None for 204), or exit 1 (refused, unreachable) or 3 (not found)."""
    try:
        with _client() as client:
            response = client.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                json=body,
                timeout=timeout,
            )
    except httpx.HTTPError as exc:
        console.print(f"[red]deskside:[/] cannot reach the controller: {exc}")
        raise typer.Exit(1) from None
    if response.status_code == 404:
        console.print(f"[red]deskside:[/] {response.json().get('detail', 'not found')}")
        raise typer.Exit(3)
    if response.status_code >= 400:
        console.print(f"[red]deskside:[/] {response.status_code} {_detail(response)}")
        raise typer.Exit(1)
    if response.status_code == 204:
        return None
    return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return response.text
    return detail if isinstance(detail, str) else json.dumps(detail)


def get(path: str, params: dict[str, Any] | None = None) -> Any:
    return call("GET", path, params)


def all_pages(path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = get(path, {**params, "cursor": cursor, "limit": 1000})
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))
