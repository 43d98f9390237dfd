"""`deskside playbooks`: the library, and running one on an endpoint."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from controller.analyst.api import JsonOption, call, console, get, print_json
from controller.analyst.checks import usage_error

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


@playbooks_app.command("run")
def playbooks_run(
    name: str,
    endpoint: Annotated[str, typer.Option(help="the endpoint (id) to run it on")],
    input_: Annotated[
        list[str] | None, typer.Option("--input", help="key=value (repeatable)")
    ] = None,
    ticket: Annotated[int | None, typer.Option(help="for this ticket (number)")] = None,
    dry_run: Annotated[bool, typer.Option(help="say what it would do; change nothing")] = False,
    wait: Annotated[
        float, typer.Option(min=0, max=600, help="seconds to wait for the end (0: do not)")
    ] = 120,
    as_json: JsonOption = False,
) -> None:
    """Run a playbook on an endpoint and print each step's state and the summary."""
    inputs = parse_inputs(input_ or [], get(f"/playbooks/{name}")["inputs"])
    body = {
        "playbook": name,
        "inputs": inputs,
        "endpoint_id": endpoint,
        "ticket_id": ticket,
        "dry_run": dry_run,
    }
    created = call("POST", "/playbook-runs", {"wait_s": wait or None}, body=body, timeout=wait + 30)
    if as_json:
        print_json(created)
        return
    for run in created["items"]:
        _print_run(run)


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
