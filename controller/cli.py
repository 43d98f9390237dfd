"""`deskside-controller`: serve, migrate, and the operator's one-off tasks."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer

from controller import __version__
from controller.errors import ConfigError, DesksideError
from controller.settings import Settings, load_settings

app = typer.Typer(help="The deskside controller.", no_args_is_help=True, add_completion=False)
enrollment_app = typer.Typer(help="Enrolment tokens for new agents.", no_args_is_help=True)
app.add_typer(enrollment_app, name="enrollment-token")


def _settings() -> Settings:
    try:
        return load_settings()
    except DesksideError as exc:
        typer.echo(f"deskside-controller: {exc}", err=True)
        raise typer.Exit(2) from None


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def serve() -> None:
    """Run the controller: REST API, web console and the agent gateway."""
    from controller.serve import serve as run

    settings = _settings()
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

    settings = _settings()
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
    from controller.container import build_controller
    from controller.fleet import enrollment

    settings = _settings()

    async def run() -> dict[str, object]:
        controller = await build_controller(settings)
        try:
            async with controller.sessions() as session:
                issued = await enrollment.create_token(
                    session,
                    controller.ca,
                    ttl_s=ttl or settings.enrollment_token_ttl_s,
                    site_id=site_id,
                    tags=tag or [],
                )
        finally:
            await controller.close()
        return {
            "token": issued.token,
            "ca_hash": issued.ca_hash,
            "expires_at": issued.expires_at.isoformat(),
            "site": issued.site,
            "tags": issued.tags,
        }

    try:
        typer.echo(json.dumps(asyncio.run(run())))
    except DesksideError as exc:
        typer.echo(f"deskside-controller: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def version() -> None:
    """Print the controller's version."""
    typer.echo(__version__)


def main() -> None:
    app()
