"""`deskside`: the analyst's command line, a client of the REST API and nothing more.

Reads DESKSIDE_URL (default http://127.0.0.1:8000) and DESKSIDE_TOKEN. Every command
takes --json for scripts. Exit codes: 0 done, 1 the API refused or failed, 2 bad usage
or configuration, 3 not found.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from controller.analyst.api import JsonOption, all_pages, console, get, print_json
from controller.analyst.checks import automation_app, checks_app, incidents_app, maintenance_app
from controller.analyst.playbooks import playbooks_app
from controller.analyst.tickets import tickets_app

app = typer.Typer(
    help="deskside for analysts: the fleet and the desk from the command line.",
    no_args_is_help=True,
    add_completion=False,
)
endpoints_app = typer.Typer(help="Managed machines.", no_args_is_help=True)
app.add_typer(endpoints_app, name="endpoints")
app.add_typer(tickets_app, name="tickets")
app.add_typer(checks_app, name="checks")
app.add_typer(incidents_app, name="incidents")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(automation_app, name="automation")
app.add_typer(playbooks_app, name="playbooks")


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
    items = all_pages("/endpoints", {"site": site, "tag": tag, "os": os_, "online": online})
    if as_json:
        print_json(items)
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
    endpoint = get(f"/endpoints/{endpoint_id}")
    if as_json:
        print_json(endpoint)
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
    inventory = get(f"/endpoints/{endpoint_id}/inventory")
    sections = inventory["sections"]
    if section:
        sections = {k: v for k, v in sections.items() if k in section}
    print_json({**inventory, "sections": sections})


def main() -> None:
    app()
