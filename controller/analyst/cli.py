"""`deskside`: the analyst's command line, a client of the REST API and nothing more.

Reads DESKSIDE_URL (default http://127.0.0.1:8000) and DESKSIDE_TOKEN. Every command
takes --json for scripts. Exit codes: 0 done, 1 the API refused or failed, 2 bad usage
or configuration, 3 not found.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="deskside for analysts: the fleet from the command line.",
    no_args_is_help=True,
    add_completion=False,
)
endpoints_app = typer.Typer(help="Managed machines.", no_args_is_help=True)
app.add_typer(endpoints_app, name="endpoints")
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


def _get(path: str, params: dict[str, Any] | None = None) -> Any:
    try:
        with _client() as client:
            response = client.get(
                path, params={k: v for k, v in (params or {}).items() if v is not None}
            )
    except httpx.HTTPError as exc:
        console.print(f"[red]deskside:[/] cannot reach the controller: {exc}")
        raise typer.Exit(1) from None
    if response.status_code == 404:
        console.print(f"[red]deskside:[/] {response.json().get('detail', 'not found')}")
        raise typer.Exit(3)
    if response.status_code >= 400:
        console.print(f"[red]deskside:[/] {response.status_code} {response.text}")
        raise typer.Exit(1)
    return response.json()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


@endpoints_app.command("ls")
def endpoints_ls(
    site: Annotated[str | None, typer.Option(help="only this site")] = None,
    tag: Annotated[str | None, typer.Option(help="only endpoints with this tag")] = None,
    os_: Annotated[str | None, typer.Option("--os", help="OS family or part of its name")] = None,
    online: Annotated[
        bool | None, typer.Option("--online/--offline", help="only online / offline")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List endpoints (all pages)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _get(
            "/endpoints",
            {
                "site": site,
                "tag": tag,
                "os": os_,
                "online": online,
                "cursor": cursor,
                "limit": 1000,
            },
        )
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if as_json:
        _print_json(items)
        return
    table = Table("hostname", "site", "os", "online", "last seen", "tags", "id")
    for e in items:
        state = "[green]online[/]" if e["online"] else "[red]offline[/]"
        table.add_row(
            e["hostname"],
            e["site"] or "",
            e["os"],
            state,
            e["last_seen"] or "never",
            ",".join(e["tags"]),
            e["id"],
        )
    console.print(table)


@endpoints_app.command("show")
def endpoints_show(endpoint_id: str, as_json: JsonOption = False) -> None:
    """Show one endpoint."""
    endpoint = _get(f"/endpoints/{endpoint_id}")
    if as_json:
        _print_json(endpoint)
        return
    for key, value in endpoint.items():
        console.print(f"[bold]{key:>14}[/] {value}")


@endpoints_app.command("inventory")
def endpoints_inventory(
    endpoint_id: str,
    section: Annotated[
        list[str] | None, typer.Option(help="only these sections (repeatable)")
    ] = None,
) -> None:
    """Print an endpoint's latest inventory as JSON."""
    inventory = _get(f"/endpoints/{endpoint_id}/inventory")
    sections = inventory["sections"]
    if section:
        sections = {k: v for k, v in sections.items() if k in section}
    _print_json({**inventory, "sections": sections})


def main() -> None:
    app()
