"""`deskside checks`, `incidents`, `maintenance` and `automation`: health checks and the
loop that acts on them, from the command line."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from controller.analyst.api import JsonOption, all_pages, call, console, get, print_json

checks_app = typer.Typer(help="Health checks: definitions and results.", no_args_is_help=True)
incidents_app = typer.Typer(
    help="Incidents: checks not ok, silenced or acknowledged.", no_args_is_help=True
)
maintenance_app = typer.Typer(
    help="Maintenance windows: no tickets, no fixes while one is open.", no_args_is_help=True
)
automation_app = typer.Typer(help="The global pause of the loop.", no_args_is_help=True)

_STATUS_COLOURS = {"ok": "green", "warn": "yellow", "fail": "red", "error": "magenta"}
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
For = Annotated[str, typer.Option("--for", help="how long: 30m, 2h, 1d")]
Reason = Annotated[str, typer.Option(help="why (recorded in the audit trail)")]


def usage_error(option: str, message: str) -> typer.Exit:
    console.print(f"[red]deskside:[/] {option}: {message}")
    return typer.Exit(2)


def duration(value: str, option: str = "--for") -> dt.timedelta:
    """'30m', '2h', '1d' (or seconds, '90s'); anything else exits 2 naming the option."""
    match = _DURATION.match(value)
    if match is None or int(match[1]) == 0:
        raise usage_error(option, f"{value!r} is not a duration (like 30m, 2h or 1d)")
    return dt.timedelta(**{_UNITS[match[2]]: int(match[1])})


def _when(value: str, option: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise usage_error(option, f"{value!r} is not an ISO date and time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _coloured(status: str | None) -> str:
    if status is None:
        return "[dim]none yet[/]"
    return f"[{_STATUS_COLOURS.get(status, 'white')}]{status}[/]"


def _target(check: dict[str, Any]) -> str:
    parts = []
    if check["endpoint_ids"]:
        parts.append(f"{len(check['endpoint_ids'])} endpoint(s)")
    if check["site_id"] is not None:
        parts.append(f"site {check['site_id']}")
    if check["tags"]:
        parts.append("tags " + ",".join(check["tags"]))
    return "; ".join(parts)


def _schedule(check: dict[str, Any]) -> str:
    return f"every {check['interval_s']} s" if check["interval_s"] else f"cron {check['cron']}"


@checks_app.command("ls")
def checks_ls(as_json: JsonOption = False) -> None:
    """List health checks (all pages)."""
    items = all_pages("/checks", {})
    if as_json:
        print_json(items)
        return
    table = Table("id", "name", "kind", "target", "schedule", "playbook", "enabled")
    for c in items:
        table.add_row(
            str(c["id"]),
            c["name"],
            c["check"],
            _target(c),
            _schedule(c),
            c["playbook"] or "",
            "[green]yes[/]" if c["enabled"] else "[dim]no[/]",
        )
    console.print(table)


@checks_app.command("show")
def checks_show(check_id: int, as_json: JsonOption = False) -> None:
    """Show one check's definition."""
    check = get(f"/checks/{check_id}")
    if as_json:
        print_json(check)
        return
    for key, value in check.items():
        console.print(f"[bold]{key:>15}[/] {value}")


@checks_app.command("results")
def checks_results(
    check_id: int,
    endpoint: Annotated[str | None, typer.Option(help="only this endpoint's (id)")] = None,
    status: Annotated[str | None, typer.Option(help="only ok, warn, fail or error")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many")] = 50,
    as_json: JsonOption = False,
) -> None:
    """A check's results, newest first."""
    page = get(
        f"/checks/{check_id}/results", {"endpoint_id": endpoint, "status": status, "limit": limit}
    )
    if as_json:
        print_json(page["items"])
        return
    table = Table("id", "at", "endpoint", "status", "value", "message")
    for r in page["items"]:
        table.add_row(
            str(r["id"]),
            r["at"],
            r["endpoint_id"],
            _coloured(r["status"]),
            "" if r["value"] is None else str(r["value"]),
            escape(r["message"]),
        )
    console.print(table)


@checks_app.command("endpoint")
def checks_endpoint(endpoint_id: str, as_json: JsonOption = False) -> None:
    """Each check that applies to an endpoint, with its state and last result."""
    standings = get(f"/endpoints/{endpoint_id}/checks")
    if as_json:
        print_json(standings)
        return
    table = Table("id", "name", "kind", "status", "since", "ticket", "last result")
    for s in standings:
        check, state, last = s["check"], s["state"], s["last_result"]
        table.add_row(
            str(check["id"]),
            check["name"],
            check["check"],
            _coloured(state["status"] if state else None),
            state["since"] if state else "",
            str(state["ticket_id"] or "") if state else "",
            escape(f"{last['at']} {last['message']}") if last else "",
        )
    console.print(table)


@incidents_app.command("ls")
def incidents_ls(as_json: JsonOption = False) -> None:
    """Checks not ok on endpoints you can reach, longest-standing first."""
    items = get("/incidents")
    if as_json:
        print_json(items)
        return
    table = Table(
        "check", "endpoint", "status", "since", "ticket", "fixes", "escalated", "silenced until"
    )
    table.add_column("acknowledged by")
    for i in items:
        table.add_row(
            f"{i['check_id']} {i['check_name']}",
            f"{i['hostname']} ({i['endpoint_id']})",
            _coloured(i["status"]),
            i["since"],
            f"#{i['ticket_id']}" if i["ticket_id"] else "",
            str(i["fixes_in_window"]),
            "[red]yes[/]" if i["escalated"] else "",
            i["silenced_until"] or "",
            i["acknowledged_by"] or "",
        )
    console.print(table)


@incidents_app.command("silence")
def incidents_silence(
    check_id: int,
    endpoint_id: str,
    for_: For,
    reason: Reason,
    as_json: JsonOption = False,
) -> None:
    """Hold the loop for a check on an endpoint (up to 30 days): no tickets, no fixes."""
    until = dt.datetime.now(dt.UTC) + duration(for_)
    body = {"until": until.isoformat(), "reason": reason}
    call("POST", f"/incidents/{check_id}/{endpoint_id}/silence", body=body)
    if as_json:
        print_json({"check_id": check_id, "endpoint_id": endpoint_id, **body})
        return
    console.print(f"check {check_id} silenced on {endpoint_id} until {body['until']}")


@incidents_app.command("ack")
def incidents_ack(check_id: int, endpoint_id: str, as_json: JsonOption = False) -> None:
    """Say you are on it (until the check recovers)."""
    call("POST", f"/incidents/{check_id}/{endpoint_id}/acknowledge")
    if as_json:
        print_json({"check_id": check_id, "endpoint_id": endpoint_id, "acknowledged": True})
        return
    console.print(f"check {check_id} on {endpoint_id} acknowledged")


def _window_table(windows: list[dict[str, Any]]) -> None:
    table = Table("id", "site", "endpoint", "starts", "ends", "reason", "by")
    for w in windows:
        table.add_row(
            str(w["id"]),
            str(w["site_id"] or ""),
            w["endpoint_id"] or "",
            w["starts_at"],
            w["ends_at"],
            escape(w["reason"]),
            w["created_by"],
        )
    console.print(table)


@maintenance_app.command("ls")
def maintenance_ls(
    ended: Annotated[bool, typer.Option(help="the ended ones too")] = False,
    as_json: JsonOption = False,
) -> None:
    """Maintenance windows open now or still to come."""
    windows = get("/maintenance-windows", {"include_ended": ended or None})
    if as_json:
        print_json(windows)
        return
    _window_table(windows)


@maintenance_app.command("open")
def maintenance_open(
    for_: For,
    reason: Reason,
    site: Annotated[int | None, typer.Option(help="a site (id), or")] = None,
    endpoint: Annotated[str | None, typer.Option(help="one endpoint (id)")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="ISO start (UTC unless it says); default now")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Open a maintenance window on a site or an endpoint (up to 31 days)."""
    if (site is None) == (endpoint is None):
        raise usage_error("--site/--endpoint", "give exactly one of them")
    starts = _when(from_, "--from") if from_ else dt.datetime.now(dt.UTC)
    body = {
        "site_id": site,
        "endpoint_id": endpoint,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + duration(for_)).isoformat(),
        "reason": reason,
    }
    window = call("POST", "/maintenance-windows", body=body)
    if as_json:
        print_json(window)
        return
    _window_table([window])


@maintenance_app.command("close")
def maintenance_close(window_id: int, as_json: JsonOption = False) -> None:
    """End a maintenance window now (it stays in the history)."""
    call("DELETE", f"/maintenance-windows/{window_id}")
    if as_json:
        print_json({"id": window_id, "closed": True})
        return
    console.print(f"maintenance window {window_id} closed")


def _pause_state(state: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(state)
    elif state["paused"]:
        console.print(
            f"[yellow]paused[/] by {state['changed_by']} at {state['changed_at']}: "
            f"{escape(state['reason'])}"
        )
    else:
        console.print("[green]running[/]: failing checks open tickets and start fixes")


@automation_app.command("status")
def automation_status(as_json: JsonOption = False) -> None:
    """Whether the loop is paused."""
    _pause_state(get("/automation"), as_json)


@automation_app.command("pause")
def automation_pause(reason: Reason, as_json: JsonOption = False) -> None:
    """Pause every automatic ticket and fix (results are still recorded)."""
    _pause_state(call("PUT", "/automation", body={"paused": True, "reason": reason}), as_json)


@automation_app.command("resume")
def automation_resume(as_json: JsonOption = False) -> None:
    """Resume the loop."""
    _pause_state(call("PUT", "/automation", body={"paused": False, "reason": ""}), as_json)
