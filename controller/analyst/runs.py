"""`deskside run`: one catalogue action on one endpoint or many, followed live to its end.

Exit codes, for scripts: 0 every run succeeded, 4 at least one did not (failed, cancelled,
expired, interrupted, or still going when --wait ran out), and the CLI's usual 1 (the API
refused or failed), 2 (bad usage) and 3 (not found).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from controller.analyst.api import JsonOption, all_pages, call, console, print_json
from controller.analyst.checks import usage_error

ENDED = frozenset({"succeeded", "failed", "cancelled", "expired", "interrupted"})
NOT_ALL_SUCCEEDED = 4
POLL_S = 0.3
_COLOURS = {"succeeded": "green", "failed": "red", "cancelled": "dim", "expired": "yellow"}


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """key=value pairs; a value that reads as JSON (5, true, [..]) is taken as such."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise usage_error("--param", f"{pair!r} is not key=value")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


def _target(on: list[str], tag: list[str], site: str | None) -> dict[str, Any]:
    if not (on or tag or site):
        raise usage_error("--on", "say where: --on ENDPOINT_ID (repeatable), --tag or --site")
    target: dict[str, Any] = {"tags": tag}
    if len(on) == 1 and not (tag or site):
        target["endpoint_id"] = on[0]
    elif on:
        target["endpoint_ids"] = on
    if site:
        target["site"] = site
    return target


def live_bars(field: str, quiet: bool) -> Progress:
    """Bars that count runs (or a run's steps) ending, with a text field beside each."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[{field}]}}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )


def _follow(runs: list[dict[str, Any]], wait_s: float, quiet: bool) -> list[dict[str, Any]]:
    """Poll the runs until each has ended or wait_s is up; a bar shows them ending."""
    batch = runs[0]["batch_id"]
    deadline = time.monotonic() + wait_s
    with live_bars("tally", quiet) as progress:
        bar = progress.add_task(runs[0]["action"], total=len(runs), tally="")
        while True:
            if batch is not None:
                runs = all_pages("/runs", {"batch": batch})
            else:
                runs = [call("GET", f"/runs/{runs[0]['id']}")]
            ended = [r for r in runs if r["state"] in ENDED]
            tally = {s: sum(1 for r in ended if r["state"] == s) for s in sorted(ENDED)}
            shown = ", ".join(f"{n} {s}" for s, n in tally.items() if n)
            progress.update(bar, completed=len(ended), tally=shown)
            if len(ended) == len(runs) or time.monotonic() >= deadline:
                return runs
            time.sleep(POLL_S)


def _summary(runs: list[dict[str, Any]]) -> Table:
    names = {e["id"]: e["hostname"] for e in all_pages("/endpoints", {})}
    table = Table("host", "state", "changed", "result", "run")
    for run in sorted(runs, key=lambda r: names.get(r["endpoint_id"], r["endpoint_id"])):
        result = run.get("result") or {}
        error = result.get("error")
        said = error["message"] if error else (result.get("output") or "").strip()
        first = said.splitlines()[0] if said else ""
        colour = _COLOURS.get(run["state"], "blue")
        table.add_row(
            names.get(run["endpoint_id"], run["endpoint_id"]),
            f"[{colour}]{run['state']}[/]",
            "yes" if result.get("changed") else "",
            escape(first[:120]),
            run["id"],
        )
    return table


def run(
    action: Annotated[str, typer.Argument(help="a catalogue action, e.g. service.restart")],
    on: Annotated[
        list[str] | None, typer.Option("--on", help="an endpoint id (repeatable)")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(help="endpoints with this tag")] = None,
    site: Annotated[str | None, typer.Option(help="the endpoints of this site")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value (repeatable)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what it would change")] = False,
    reason: Annotated[str, typer.Option(help="why (kept with the run)")] = "",
    ticket: Annotated[int | None, typer.Option(help="the ticket this run is for")] = None,
    timeout: Annotated[int, typer.Option(help="seconds the action may take")] = 300,
    wait: Annotated[
        float | None, typer.Option(help="seconds to follow (default: timeout + 30)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a catalogue action and follow it: a live bar, then a table by host."""
    body = {
        "action": action,
        "params": parse_params(param or []),
        "dry_run": dry_run,
        "reason": reason,
        "ticket_id": ticket,
        "timeout_s": timeout,
        **_target(on or [], tag or [], site),
    }
    created = call("POST", "/runs", body=body)["items"]
    if not created:
        console.print("[yellow]deskside:[/] no endpoint matched")
        raise typer.Exit(NOT_ALL_SUCCEEDED)
    runs = _follow(created, timeout + 30 if wait is None else wait, quiet=as_json)
    if as_json:
        print_json(runs)
    else:
        console.print(_summary(runs))
    if any(r["state"] != "succeeded" for r in runs):
        raise typer.Exit(NOT_ALL_SUCCEEDED)
