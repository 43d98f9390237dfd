"""`deskside-controller`: serve, migrate, and the operator's one-off tasks."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from controller import __version__
from controller.access.actor import Actor
from controller.cli_accounts import token_app, user_app
from controller.cli_support import run_task, settings_or_exit
from controller.container import Controller
from controller.errors import ConfigError, DesksideError
from controller.settings import Settings

app = typer.Typer(help="The deskside controller.", no_args_is_help=True, add_completion=False)
enrollment_app = typer.Typer(help="Enrolment tokens for new agents.", no_args_is_help=True)
app.add_typer(enrollment_app, name="enrollment-token")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def serve() -> None:
    """Run the controller: REST API, web console and the agent gateway."""
    from controller.serve import serve as run

    settings = settings_or_exit()
    _logging(settings)
    try:
        asyncio.run(run(settings))
    except ConfigError as exc:
        typer.echo(f"deskside-controller: {exc}", err=True)
        raise typer.Exit(2) from None
    except (DesksideError, OSError) as exc:
        typer.echo(f"deskside-controller: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest version."""
    from controller.storage import migrate as migrations
    from controller.storage.db import create_engine

    settings = settings_or_exit()
    _logging(settings)

    async def run() -> str | None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrations.upgrade(engine)
            return await migrations.current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {asyncio.run(run())}")


@enrollment_app.command("create")
def enrollment_create(
    site_id: Annotated[int | None, typer.Option(help="site the endpoint joins")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="tag for the endpoint (repeatable)")] = None,
    ttl: Annotated[int | None, typer.Option(help="lifetime in seconds")] = None,
) -> None:
    """Create a one-time enrolment token and print it as JSON."""
    from controller.fleet import enrollment

    async def create(
        controller: Controller, session: AsyncSession, actor: Actor
    ) -> dict[str, object]:
        issued = await enrollment.create_token(
            session,
            actor,
            controller.ca,
            ttl_s=ttl or controller.settings.enrollment_token_ttl_s,
            site_id=site_id,
            tags=tag or [],
        )
        return {
            "token": issued.token,
            "ca_hash": issued.ca_hash,
            "expires_at": issued.expires_at.isoformat(),
            "site": issued.site,
            "tags": issued.tags,
            "command": controller.enroll_command(issued.token, issued.ca_hash),
        }

    typer.echo(json.dumps(run_task(create)))


@app.command()
def version() -> None:
    """Print the controller's version."""
    typer.echo(__version__)


def main() -> None:
    app()
