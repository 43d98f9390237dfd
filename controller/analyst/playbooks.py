"""`deskside playbooks`: the library, and running one on endpoints, followed live.

Exit codes: 0 done (for `run`: every playbook run succeeded), 4 (`run`) at least one did
not, and the CLI's usual 1 (the API refused or failed), 2 (bad usage), 3 (not found)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from controller.analyst.api import JsonOption, all_pages, call, console, get, print_json
from controller.analyst.checks import usage_error
from controller.analyst.runs import NOT_ALL_SUCCEEDED, POLL_S, live_bars

playbooks_app = typer.Typer(help="Playbooks: the library and playbook runs.", no_args_is_help=True)

_STATE_COLOURS = {
    "succeeded": "green",
    "failed": "red",
    "escalated": "yellow",
    "cancelled": "dim",
    "interrupted": "red",
    "queued": "blue",
    "running": "blue",
}
TERMINAL = frozenset({"succeeded", "failed", "escalated", "cancelled", "interrupted"})
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _convert(key: str, raw: str, kind: str) -> Any:
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise usage_error("--input", f"{key} needs a whole number, not {raw!r}") from None
    if kind == "bool":
        if raw.lower() not in _TRUE | _FALSE:
            raise usage_error("--input", f"{key} needs true or false, not {raw!r}")
        return raw.lower() in _TRUE
    if kind == "list":
        if raw.startswith("["):
            try:
                value = json.loads(raw)
            except ValueError:
                raise usage_error("--input", f"{key}: {raw!r} is not a JSON list") from None
            if isinstance(value, list):
                return value
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def parse_inputs(pairs: list[str], specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """key=value pairs, each converted to its input's type; bad ones exit 2 naming --input."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise usage_error("--input", f"{pair!r} is not key=value")
        if key not in specs:
            known = ", ".join(sorted(specs)) or "none"
            raise usage_error("--input", f"the playbook has no input {key!r} (it has: {known})")
        inputs[key] = _convert(key, raw, str(specs[key].get("type", "str")))
    return inputs


@playbooks_app.command("ls")
def playbooks_ls(as_json: JsonOption = False) -> None:
    """The playbook library."""
    books = get("/playbooks")
    if as_json:
        print_json(books)
        return
    table = Table("name", "steps", "inputs", "escalates to", "description")
    for b in books:
        table.add_row(
            b["name"],
            str(len(b["steps"])),
            ", ".join(b["inputs"]),
            (b["escalate"] or {}).get("team", ""),
            " ".join(b["description"].split()),
        )
    console.print(table)


@playbooks_app.command("show")
def playbooks_show(name: str, as_json: JsonOption = False) -> None:
    """A playbook: its inputs, steps, rollback and escalation."""
    book = get(f"/playbooks/{name}")
    if as_json:
        print_json(book)
        return
    console.print(f"[bold]{book['name']}[/] ({book['path']}, {book['digest'][:12]})")
    console.print(" ".join(book["description"].split()))
    for key, spec in book["inputs"].items():
        default = f" = {spec['default']!r}" if spec.get("default") is not None else ""
        console.print(f"  input {key}: {spec.get('type', 'str')}{default}")
    for phase in ("steps", "rollback"):
        for s in book[phase]:
            where = "rollback " if phase == "rollback" else ""
            action = f": {s['action']}" if s["action"] else ""
            when = f" when {s['when']}" if s["when"] else ""
            console.print(f"  {where}{s['kind']} {s['id']}{action} (risk {s['risk']}){when}")
    if book["escalate"]:
        console.print(f"  escalates to {book['escalate'].get('team', '')}")


def _step_line(step: dict[str, Any]) -> str:
    where = "rollback " if step.get("phase") == "rollback" else ""
    action = f": {step['action']}" if step.get("action") else ""
    why = f" -- {step['why']}" if step.get("why") else ""
    return (
        f"  [{step.get('state', '?')}] {where}{step.get('kind', '')} {step.get('id')}{action}{why}"
    )


def _target(on: list[str], tag: list[str], site: str | None) -> dict[str, Any]:
    if not (on or tag or site):
        raise usage_error("--on", "say where: --on ENDPOINT_ID (repeatable), --tag or --site")
    target: dict[str, Any] = {"tags": tag, "site": site}
    if len(on) == 1 and not (tag or site):
        target["endpoint_id"] = on[0]
    elif on:
        target["endpoint_ids"] = on
    return target


def _current(runs: list[dict[str, Any]], batch: str | None) -> list[dict[str, Any]]:
    if batch is not None:
        return all_pages("/playbook-runs", {"batch": batch})
    return [get(f"/playbook-runs/{run['id']}") for run in runs]


def _follow(
    created: list[dict[str, Any]],
    batch: str | None,
    steps: int,
    names: dict[str, str],
    wait_s: float,
    quiet: bool,
) -> list[dict[str, Any]]:
    """Poll until every run has ended or wait_s is up; one bar per host counts its steps."""
    deadline = time.monotonic() + wait_s
    with live_bars("state", quiet) as progress:
        bars = {
            run["id"]: progress.add_task(
                names.get(run["endpoint_id"], run["endpoint_id"]), total=steps, state=""
            )
            for run in created
        }
        runs = created
        while True:
            runs = _current(runs, batch)
            for run in runs:
                ended = run["state"] in TERMINAL
                done = sum(1 for s in run["steps"] if s.get("phase") != "rollback")
                progress.update(
                    bars[run["id"]],
                    completed=steps if ended else done,
                    state=_coloured(run["state"]),
                )
            if all(r["state"] in TERMINAL for r in runs) or time.monotonic() >= deadline:
                return runs
            time.sleep(POLL_S)


def _coloured(state: str) -> str:
    return f"[{_STATE_COLOURS.get(state, 'white')}]{state}[/]"


def _outcome(run: dict[str, Any]) -> str:
    """In a few words: what changed, or where and why it went wrong."""
    failed = [s for s in run["steps"] if s.get("failed")]
    if failed:
        return f"step {failed[0]['id']} failed: {failed[0].get('why', '')}"
    if run["state"] != "succeeded":
        return ((run["summary"] or "").strip().splitlines() or [""])[-1]
    return "changed" if any(s.get("changed") for s in run["steps"]) else "nothing to change"


def _summary(name: str, runs: list[dict[str, Any]], names: dict[str, str], steps: int) -> Table:
    dry = " (dry run)" if any(r["dry_run"] for r in runs) else ""
    table = Table("host", "state", "steps", "outcome", "run", title=f"{name}{dry}")
    for run in sorted(runs, key=lambda r: names.get(r["endpoint_id"], r["endpoint_id"])):
        done = sum(1 for s in run["steps"] if s.get("phase") != "rollback")
        table.add_row(
            names.get(run["endpoint_id"], run["endpoint_id"]),
            _coloured(run["state"]),
            f"{done}/{steps}",
            escape(_outcome(run)[:120]),
            run["id"],
        )
    return table


@playbooks_app.command("run")
def playbooks_run(
    name: str,
    on: Annotated[
        list[str] | None,
        typer.Option("--on", "--endpoint", help="an endpoint id (repeatable)"),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(help="endpoints with this tag")] = None,
    site: Annotated[str | None, typer.Option(help="the endpoints of this site")] = None,
    input_: Annotated[
        list[str] | None, typer.Option("--input", help="key=value (repeatable)")
    ] = None,
    ticket: Annotated[int | None, typer.Option(help="for this ticket (number)")] = None,
    dry_run: Annotated[bool, typer.Option(help="say what it would do; change nothing")] = False,
    wait: Annotated[
        float, typer.Option(min=0, max=3600, help="seconds to follow it (0: start it, do not wait)")
    ] = 300,
    as_json: JsonOption = False,
) -> None:
    """Run a playbook on endpoints: a live bar per host, then a summary table.

    Exit 4 unless every run succeeded (failed, escalated, cancelled, or still going when
    --wait ran out); with --wait 0 it only starts them."""
    book = get(f"/playbooks/{name}")
    body = {
        "playbook": name,
        "inputs": parse_inputs(input_ or [], book["inputs"]),
        "ticket_id": ticket,
        "dry_run": dry_run,
        **_target(on or [], tag or [], site),
    }
    created = call("POST", "/playbook-runs", body=body)
    runs = created["items"]
    if not runs:
        console.print("[yellow]deskside:[/] no endpoint matched")
        raise typer.Exit(NOT_ALL_SUCCEEDED)
    if wait:
        names = {e["id"]: e["hostname"] for e in all_pages("/endpoints", {})}
        steps = max(len(book["steps"]), 1)
        runs = _follow(runs, created["batch_id"], steps, names, wait, quiet=as_json)
    if as_json:
        print_json({"batch_id": created["batch_id"], "items": runs})
    elif not wait:
        for run in runs:
            console.print(f"{_coloured(run['state'])}: deskside playbooks status {run['id']}")
    else:
        if len(runs) == 1:
            _print_run(runs[0])
        console.print(_summary(name, runs, names, steps))
    if wait and any(r["state"] != "succeeded" for r in runs):
        raise typer.Exit(NOT_ALL_SUCCEEDED)


def _print_run(run: dict[str, Any]) -> None:
    colour = _STATE_COLOURS.get(run["state"], "white")
    dry = " (dry run)" if run["dry_run"] else ""
    console.print(f"[bold]{run['playbook']}[/]{dry} [{colour}]{run['state']}[/] {run['id']}")
    for step in run["steps"]:
        console.print(escape(_step_line(step)))
    if run["summary"]:
        console.print(escape(run["summary"]))
    elif run["state"] in ("queued", "running"):
        console.print(f"[dim]not ended yet: deskside playbooks status {run['id']}[/]")


@playbooks_app.command("status")
def playbooks_status(run_id: str, as_json: JsonOption = False) -> None:
    """Where a playbook run stands: each step's state and the summary."""
    run = get(f"/playbook-runs/{run_id}")
    if as_json:
        print_json(run)
        return
    _print_run(run)
