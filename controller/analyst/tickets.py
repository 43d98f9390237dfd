"""`deskside tickets`: the desk's queue, a ticket's story, and moving it along."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from controller.analyst.api import JsonOption, all_pages, call, console, get, print_json

tickets_app = typer.Typer(help="Tickets: queues, timelines, comments, moves.", no_args_is_help=True)

_SLA_COLOURS = {"breached": "red", "warning": "yellow", "paused": "blue", "met": "green"}


TeamOption = Annotated[str | None, typer.Option("--team", help="a team: its name or id")]


def team_id(value: str | None) -> int | None:
    """A team named by id or (case aside) by name; an unknown name exits 3 naming --team."""
    if value is None or value.strip().isdigit():
        return None if value is None else int(value)
    teams = all_pages("/teams", {})
    for team in teams:
        if team["name"].casefold() == value.strip().casefold():
            return int(team["id"])
    known = ", ".join(sorted(t["name"] for t in teams)) or "none"
    console.print(f"[red]deskside:[/] --team: no team named {value!r} (teams: {known})")
    raise typer.Exit(3)


def _show(ticket: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(ticket)
        return
    console.print(
        f"[bold]#{ticket['id']}[/] P{ticket['priority']} {ticket['state']}: {ticket['title']}"
    )


@tickets_app.command("ls")
def tickets_ls(
    state: Annotated[str, typer.Option(help="a state, or open")] = "open",
    mine: Annotated[bool, typer.Option(help="only tickets assigned to me")] = False,
    team: TeamOption = None,
    unassigned: Annotated[bool, typer.Option(help="only tickets nobody holds")] = False,
    breaching: Annotated[
        int | None, typer.Option(help="only those due to breach within this many minutes")
    ] = None,
    priority: Annotated[int | None, typer.Option(help="only this priority (1-5)")] = None,
    as_json: JsonOption = False,
) -> None:
    """List tickets, newest first (open ones unless --state says otherwise)."""
    items = all_pages(
        "/tickets",
        {
            "state": state,
            "mine": mine or None,
            "team_id": team_id(team),
            "unassigned": unassigned or None,
            "breaching_within_s": breaching * 60 if breaching is not None else None,
            "priority": priority,
        },
    )
    if as_json:
        print_json(items)
        return
    table = Table("#", "P", "state", "title", "team", "assignee", "SLA", "due")
    for t in items:
        colour = _SLA_COLOURS.get(t["sla_state"], "white")
        table.add_row(
            str(t["id"]),
            str(t["priority"]),
            t["state"] + (f" ({t['pending_reason']})" if t["pending_reason"] else ""),
            t["title"],
            str(t["team_id"] or ""),
            str(t["assignee_id"] or ""),
            f"[{colour}]{t['sla_state']}[/]",
            t["resolve_due_at"] or "",
        )
    console.print(table)


@tickets_app.command("show")
def tickets_show(number: int, as_json: JsonOption = False) -> None:
    """A ticket and its timeline."""
    ticket = get(f"/tickets/{number}")
    timeline = get(f"/tickets/{number}/timeline")
    if as_json:
        print_json({"ticket": ticket, "timeline": timeline})
        return
    _show(ticket, False)
    for key in ("requester_email", "team_id", "assignee_id", "sla_state", "resolve_due_at"):
        if ticket[key]:
            console.print(f"  {key}: {ticket[key]}")
    if ticket["description"]:
        console.print(f"\n{ticket['description']}\n")
    for entry in timeline:
        where = "" if entry["public"] else " [dim](internal)[/]"
        console.print(f"[cyan]{entry['at']}[/] {entry['kind']} by {entry['actor']}{where}")
        if entry["body"]:
            console.print(f"    {entry['body']}")


@tickets_app.command("new")
def tickets_new(
    title: str,
    description: Annotated[str, typer.Option(help="what is wrong, in the caller's words")] = "",
    impact: Annotated[int, typer.Option(min=1, max=3, help="1 high .. 3 low")] = 3,
    urgency: Annotated[int, typer.Option(min=1, max=3, help="1 high .. 3 low")] = 3,
    channel: Annotated[str, typer.Option(help="phone, email, walk_in, portal, api")] = "phone",
    requester_email: Annotated[str, typer.Option(help="the caller's e-mail")] = "",
    endpoint: Annotated[
        list[str] | None, typer.Option(help="a linked endpoint id (repeatable)")
    ] = None,
    team: TeamOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open a ticket (for a caller on the phone, say)."""
    body = {
        "title": title,
        "description": description,
        "impact": impact,
        "urgency": urgency,
        "channel": channel,
        "requester_email": requester_email,
        "endpoint_ids": endpoint or [],
        "team_id": team_id(team),
    }
    _show(call("POST", "/tickets", body=body), as_json)


@tickets_app.command("comment")
def tickets_comment(
    number: int,
    text: str,
    internal: Annotated[bool, typer.Option(help="a note only staff see")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a comment (public unless --internal)."""
    body = {"body": text, "public": not internal}
    _show(call("POST", f"/tickets/{number}/comments", body=body), as_json)


@tickets_app.command("move")
def tickets_move(
    number: int,
    state: str,
    reason: Annotated[
        str | None, typer.Option(help="for pending: requester, vendor or change")
    ] = None,
    resolution: Annotated[str, typer.Option(help="for resolved: what fixed it")] = "",
    as_json: JsonOption = False,
) -> None:
    """Move a ticket to another state (in_progress, pending, resolved, closed...)."""
    body = {"state": state, "reason": reason, "resolution": resolution}
    _show(call("POST", f"/tickets/{number}/transition", body=body), as_json)


@tickets_app.command("assign")
def tickets_assign(
    number: int,
    team: TeamOption = None,
    to: Annotated[int | None, typer.Option(help="user id of the new assignee")] = None,
    reason: Annotated[str, typer.Option(help="why")] = "",
    as_json: JsonOption = False,
) -> None:
    """Give the ticket to a team (its rule picks the person) and/or a person."""
    body = {"team_id": team_id(team), "assignee_id": to, "reason": reason}
    _show(call("POST", f"/tickets/{number}/assign", body=body), as_json)


@tickets_app.command("take")
def tickets_take(number: int, as_json: JsonOption = False) -> None:
    """Take a ticket: assign it to yourself (the user of your token)."""
    me = get("/me").get("user")
    if not me:
        console.print("[red]deskside:[/] your token belongs to no user; nobody to assign to")
        raise typer.Exit(1)
    body = {"assignee_id": me["id"], "reason": "taken"}
    _show(call("POST", f"/tickets/{number}/assign", body=body), as_json)


@tickets_app.command("escalate")
def tickets_escalate(
    number: int,
    reason: Annotated[str, typer.Option(help="why it goes on")],
    team: TeamOption = None,
    up: Annotated[bool, typer.Option(help="hierarchical: up a tier / to the lead")] = False,
    vendor_ref: Annotated[str, typer.Option(help="the vendor's own case number")] = "",
    as_json: JsonOption = False,
) -> None:
    """Escalate to another team or a vendor, or (--up) up the line."""
    body = {
        "reason": reason,
        "team_id": team_id(team),
        "kind": "hierarchical" if up else None,
        "vendor_reference": vendor_ref,
    }
    _show(call("POST", f"/tickets/{number}/escalate", body=body), as_json)
