"""`deskside`: the analyst's command line, a client of the REST API and nothing more.

Reads DESKSIDE_URL (default http://127.0.0.1:8000) and DESKSIDE_TOKEN, or the login
`deskside login` saved (the environment wins). Every command
takes --json for scripts. Exit codes: 0 done, 1 the API refused or failed, 2 bad usage
or configuration, 3 not found, 4 (run) not every run succeeded.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from controller.analyst.api import (
    DEFAULT_URL,
    JsonOption,
    all_pages,
    call,
    client_for,
    console,
    get,
    login_file,
    print_json,
)
from controller.analyst.checks import automation_app, checks_app, incidents_app, maintenance_app
from controller.analyst.demo import demo
from controller.analyst.playbooks import playbooks_app
from controller.analyst.runs import run
from controller.analyst.tickets import tickets_app

app = typer.Typer(
    help="deskside for analysts: the fleet and the desk from the command line.",
    no_args_is_help=True,
    add_completion=False,
    epilog="Exit codes: 0 done; 1 the API refused or failed; 2 bad usage or configuration; "
    "3 not found; 4 a run or playbook run did not succeed.",
)
endpoints_app = typer.Typer(help="Managed machines.", no_args_is_help=True)
app.add_typer(endpoints_app, name="endpoints")
app.add_typer(tickets_app, name="tickets")
app.add_typer(checks_app, name="checks")
app.add_typer(incidents_app, name="incidents")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(automation_app, name="automation")
app.add_typer(playbooks_app, name="playbooks")
app.add_typer(playbooks_app, name="playbook", hidden=True)  # `deskside playbook run` reads well
kb_app = typer.Typer(help="The knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.command("run")(run)
app.command("demo")(demo)


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
    as_json: JsonOption = False,
) -> None:
    """An endpoint's latest inventory: highlighted JSON, or plain with --json."""
    inventory = get(f"/endpoints/{endpoint_id}/inventory")
    sections = inventory["sections"]
    if section:
        sections = {k: v for k, v in sections.items() if k in section}
    if as_json:
        print_json({**inventory, "sections": sections})
    else:
        console.print_json(data={**inventory, "sections": sections})


@endpoints_app.command("add")
def endpoints_add(
    hostname: Annotated[str, typer.Argument(help="the name it goes by")],
    address: Annotated[str, typer.Option(help="host name or IP address to connect to")],
    user: Annotated[str, typer.Option(help="the account deskside logs in as")],
    transport: Annotated[Literal["ssh", "winrm"], typer.Option(help="ssh or winrm")] = "ssh",
    port: Annotated[int | None, typer.Option(help="default 22 (ssh), 5986 (winrm)")] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="ssh: a private key file (PEM or OpenSSH)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    host_key: Annotated[
        str | None, typer.Option(help="ssh: pin this key (default: the one seen now)")
    ] = None,
    site_id: Annotated[int | None, typer.Option(help="its site")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="a tag (repeatable)")] = None,
    sudo: Annotated[
        bool, typer.Option(help="ssh: run what changes the machine via sudo -n")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Enrol a machine without an agent (ssh or winrm); secrets never go in argv."""
    body = {
        "transport": transport,
        "hostname": hostname,
        "address": address,
        "port": port,
        "username": user,
        "host_key": host_key,
        "site_id": site_id,
        "tags": tag or [],
        "sudo": sudo,
    }
    if key_file is not None:
        body["private_key"] = key_file.read_text()
    if password_stdin:
        body["password"] = sys.stdin.readline().rstrip("\n")
    created = call("POST", "/endpoints", body=body, timeout=120)
    if as_json:
        print_json(created)
        return
    _connectivity(created["connectivity"])
    console.print(f"[bold]{created['hostname']}[/] enrolled as {created['id']}")


def _connectivity(reached: dict[str, object]) -> None:
    if reached["ok"]:
        console.print("[green]reached[/]: connected, authenticated, inventory read")
    else:
        console.print(f"[red]not reached[/] ({reached['code']}): {escape(str(reached['message']))}")


@endpoints_app.command("test")
def endpoints_test(endpoint_id: str, as_json: JsonOption = False) -> None:
    """Connect to an agentless endpoint now and read its inventory; exit 1 if not reached."""
    reached = call("POST", f"/endpoints/{endpoint_id}/test", timeout=180)
    if as_json:
        print_json(reached)
    else:
        _connectivity(reached)
    if not reached["ok"]:
        raise typer.Exit(1)


@kb_app.command("search")
def kb_search(
    words: Annotated[list[str], typer.Argument(help="words the articles must all hold")],
    limit: Annotated[int, typer.Option(help="at most this many")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Search the knowledge base."""
    found = get("/kb/search", {"q": " ".join(words), "limit": limit})["items"]
    if as_json:
        print_json(found)
        return
    table = Table("id", "title", "state", "updated")
    for article in found:
        table.add_row(
            str(article["id"]),
            escape(article["title"]),
            article.get("state", ""),
            str(article.get("updated_at", "")),
        )
    console.print(table)


@app.command("login")
def login(
    url: Annotated[str, typer.Option(help="the controller")] = DEFAULT_URL,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="read the API token from standard input")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Save the controller's URL and your API token (checked first) for later commands."""
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("API token", hide_input=True).strip()
    try:
        with client_for(url, token) as client:
            me = client.get("/me")
    except httpx.HTTPError as exc:
        console.print(f"[red]deskside:[/] cannot reach {url}: {exc}")
        raise typer.Exit(1) from None
    if me.status_code != 200:
        console.print(f"[red]deskside:[/] {url} refused the token ({me.status_code}); not saved")
        raise typer.Exit(1)
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before the token is written: never readable by others, even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
    os.chmod(path, 0o600)  # an older file may have had other bits
    who = (me.json().get("user") or {}).get("username") or me.json()["role"]
    if as_json:
        print_json({"url": url, "user": who, "role": me.json()["role"], "saved_to": str(path)})
        return
    console.print(f"logged in to {url} as [bold]{who}[/] ({path})")


@app.command("logout")
def logout(as_json: JsonOption = False) -> None:
    """Forget the saved login."""
    path = login_file()
    existed = path.exists()
    path.unlink(missing_ok=True)
    if as_json:
        print_json({"forgotten": existed, "path": str(path)})


def main() -> None:
    app()
