"""What the operator commands share: settings, and a controller opened for one task."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.container import Controller
from controller.errors import DesksideError, InvalidInput, NotFound
from controller.settings import Settings, load_settings

T = TypeVar("T")
Task = Callable[[Controller, AsyncSession, Actor], Awaitable[T]]


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except DesksideError as exc:
        typer.echo(f"deskside-controller: {exc}", err=True)
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"deskside-controller: {message}", err=True)
    return typer.Exit(code)


def run_task(task: Task[T]) -> T:
    """Open the database and CA, run task as the operator at this console, close.

    The audit trail names the operator by their login on the controller's machine.
    Exit codes: 2 bad input, 3 not found, 1 anything else refused.
    """
    from controller.container import build_controller

    settings = settings_or_exit()
    actor = Actor.system(f"cli:{getpass.getuser()}")

    async def run() -> T:
        controller = await build_controller(settings)
        try:
            async with controller.sessions() as session:
                return await task(controller, session, actor)
        finally:
            await controller.close()

    try:
        return asyncio.run(run())
    except InvalidInput as exc:
        raise fail(str(exc), 2) from None
    except NotFound as exc:
        raise fail(str(exc), 3) from None
    except DesksideError as exc:
        raise fail(str(exc)) from None
