"""`deskside-agent`: enrol once, then run; `inventory` prints this machine's snapshot."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from agent import __version__
from agent.settings import AgentSettings, SettingsError

app = typer.Typer(help="The deskside endpoint agent.", no_args_is_help=True, add_completion=False)


def _settings() -> AgentSettings:
    try:
        return AgentSettings.from_env()
    except SettingsError as exc:
        typer.echo(f"deskside-agent: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def enroll(
    controller: Annotated[str, typer.Option(help="the controller's gRPC address, HOST:PORT")],
    token: Annotated[str, typer.Option(help="one-time enrolment token")],
    ca_hash: Annotated[str, typer.Option(help="sha256:<hex> of the controller's CA")],
    enroll_address: Annotated[
        str | None, typer.Option(help="the enrolment listener, HOST:PORT [default: gRPC port + 1]")
    ] = None,
    force: Annotated[bool, typer.Option(help="replace an existing enrolment")] = False,
) -> None:
    """Enrol this machine: verify the controller's CA by its hash, then get a certificate."""
    from agent import state
    from agent.enrollment import EnrollError
    from agent.enrollment import enroll as do_enroll

    settings = _settings()
    if state.is_enrolled(settings.state_dir) and not force:
        typer.echo(
            f"deskside-agent: already enrolled (state in {settings.state_dir}); "
            "use --force to enrol again",
            err=True,
        )
        raise typer.Exit(1)
    try:
        enrolled = do_enroll(controller, token, ca_hash, enroll_address)
    except EnrollError as exc:
        typer.echo(f"deskside-agent: {exc}", err=True)
        raise typer.Exit(1) from None
    state.save(
        settings.state_dir,
        state.Identity(enrolled.endpoint_id, controller, enrolled.site, enrolled.tags),
        state.Credentials(enrolled.key_pem, enrolled.cert_pem, enrolled.ca_pem),
    )
    typer.echo(f"enrolled as endpoint {enrolled.endpoint_id}; state in {settings.state_dir}")


@app.command()
def run() -> None:
    """Connect to the controller and serve it until stopped (SIGTERM or Ctrl-C)."""
    from agent.daemon import run as run_daemon

    raise typer.Exit(run_daemon())


@app.command()
def inventory(
    section: Annotated[
        list[str] | None, typer.Option(help="only these sections (repeatable)")
    ] = None,
) -> None:
    """Print this machine's inventory as JSON (no controller needed)."""
    from agent.inventory import SECTIONS, InventoryCollector

    unknown = [s for s in section or [] if s not in SECTIONS]
    if unknown:
        typer.echo(
            f"deskside-agent: --section: unknown {', '.join(unknown)}; "
            f"one of {', '.join(SECTIONS)}",
            err=True,
        )
        raise typer.Exit(2)
    snapshot = InventoryCollector().snapshot()
    if section:
        snapshot = {k: v for k, v in snapshot.items() if k in section}
    json.dump(snapshot, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


@app.command()
def status() -> None:
    """Show this agent's enrolment and what waits in its spool."""
    from agent import state
    from agent.spool import Spool

    settings = _settings()
    try:
        identity, _ = state.load(settings.state_dir)
    except state.NotEnrolled as exc:
        typer.echo(f"deskside-agent: {exc}", err=True)
        raise typer.Exit(1) from None
    spool = Spool(settings.state_dir / state.SPOOL, settings.spool_max_bytes)
    report = {
        "endpoint_id": identity.endpoint_id,
        "controller": identity.controller,
        "site": identity.site,
        "tags": identity.tags,
        "state_dir": str(settings.state_dir),
        "spool": {
            "last_seq": spool.last_seq,
            "last_acked": spool.last_acked,
            "pending_bytes": spool.pending_bytes,
            "dropped": spool.dropped,
        },
    }
    spool.close()
    typer.echo(json.dumps(report, indent=2))


@app.command()
def version() -> None:
    """Print the agent's version."""
    typer.echo(__version__)
