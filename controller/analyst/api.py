"""The analyst CLI's way to the REST API: one client, errors turned into exit codes.

Exit codes: 1 the API refused or failed, 2 bad usage or configuration, 3 not found.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

console = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


def _client() -> httpx.Client:
    token = os.environ.get("DESKSIDE_TOKEN")
    if not token:
        console.print("[red]deskside:[/] set DESKSIDE_TOKEN to your API token")
        raise typer.Exit(2)
    base = os.environ.get("DESKSIDE_URL", "http://127.0.0.1:8000").rstrip("/")
    return httpx.Client(
        base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


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
