"""`deskside demo`: a controller, a small fleet of real agents and a seeded desk with faults
to fix, in the foreground until Ctrl-C; then everything it started is stopped."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from controller.analyst.api import JsonOption, console, print_json
from controller.demo.fleet import Fleet, FleetError
from controller.demo.seed import SeedError
from controller.demo.stage import start_demo

progress = Console(stderr=True)  # keeps stdout for the panel or the JSON report


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo as Ctrl-C does


def _tries(report: dict[str, Any]) -> list[str]:
    tries = []
    for fault in report["faults"]:
        if fault["kind"] == "disk-full":
            inputs = " ".join(f"{k}={v}" for k, v in fault["inputs"].items())
            tries.append(
                f"{fault['hostname']}: its temp dir is full. As ana, take the ticket 'My PC "
                f"says the disk is full' and run the playbook disk-full-temp with {inputs}"
            )
        else:
            tries.append(
                f"{fault['hostname']}: {fault['process']} eats the CPU. A health check finds "
                "it and runs runaway-process by itself: read its ticket's timeline"
            )
    return [
        *tries,
        "escalate a ticket to Tier 2; the dashboard as admin; the portal as rita",
        "the guided tour for new analysts: docs/TOUR.md",
    ]


def _panel(report: dict[str, Any], root: Path, staying: bool) -> Panel:
    hosts = Table("endpoint", "site", "network", box=None, padding=(0, 2))
    for e in report["endpoints"]:
        where = f"{e['address']} (netns {e['namespace']})" if e["address"] else "local process"
        hosts.add_row(e["hostname"], e["site"], where)
    logins = Table("user", "role", "password", box=None, padding=(0, 2))
    for name, user in report["users"].items():
        logins.add_row(name, user["role"], user["password"])
    body = Table.grid()
    body.add_row(f"[bold]Console[/] {report['console']}   (API {report['url']}/api/v1)")
    body.add_row(f"[bold]Data[/]    {escape(str(root))} (logs; wiped by the next demo)")
    for part in ("", hosts, "", logins, "", "[bold]Try[/]"):
        body.add_row(part)
    for line in _tries(report):
        body.add_row(f"  - {escape(line)}")
    if staying:
        body.add_row("\n[dim]Ctrl-C stops the demo and everything it started.[/]")
    return Panel(body, title="deskside demo", expand=False)


def _wait_for_interrupt(fleet: Fleet) -> None:
    """Until Ctrl-C, or until the controller stops by itself (nothing left to demo)."""
    controller = fleet.children[0]
    while controller.poll() is None:
        time.sleep(0.5)
    console.print("[red]deskside demo:[/] the controller stopped; see controller.log")


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="the demo's data dir (wiped at start)")
    ] = Path("var/demo"),
    agents: Annotated[int, typer.Option(min=1, max=10, help="how many demo agents")] = 3,
    port: Annotated[int, typer.Option(min=0, max=65535, help="HTTP port (0: any free)")] = 8080,
    netns: Annotated[
        bool, typer.Option(help="agents in network namespaces where permitted (root)")
    ] = True,
    exit_after_seed: Annotated[
        bool, typer.Option("--exit-after-seed", help="stop once seeded (for tests and checks)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Start a demo: controller, agents, seeded desk, faults to fix; Ctrl-C stops it all."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    fleet: Fleet | None = None
    try:
        with progress.status("starting the demo controller and agents...", spinner="dots"):
            fleet, seeded = start_demo(directory, agents, port, namespaces=netns)
        report = {**seeded.report(), "data_dir": str(fleet.root), "pids": fleet.pids()}
        if as_json:
            print_json(report)
        else:
            console.print(_panel(report, fleet.root, not exit_after_seed))
        sys.stdout.flush()
        if not exit_after_seed:
            _wait_for_interrupt(fleet)
    except (FleetError, SeedError) as exc:
        console.print(f"[red]deskside demo:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if fleet is not None:
            with progress.status("stopping the demo...", spinner="dots"):
                fleet.stop()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
