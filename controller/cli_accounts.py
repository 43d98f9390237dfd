"""`deskside-controller user ...` and `token ...`: accounts from the controller's own console."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import tokens, users
from controller.access.actor import Actor
from controller.access.roles import Role
from controller.cli_support import fail, run_task
from controller.container import Controller
from controller.errors import InvalidInput
from controller.storage.models import Site, User

user_app = typer.Typer(help="Users of the desk.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n") or None
    if not sys.stdin.isatty():
        return None
    entered: str = typer.prompt(
        "Password (empty: API tokens only)", default="", hide_input=True, show_default=False
    )
    if entered and typer.prompt("Again", hide_input=True) != entered:
        raise fail("the passwords differ", 2)
    return entered or None


async def _site_ids(session: AsyncSession, names: list[str]) -> list[int]:
    ids = []
    for index, name in enumerate(names):
        query = (
            select(Site.id).where(Site.id == int(name))
            if name.isdigit()
            else select(Site.id).where(Site.name == name)
        )
        site_id = await session.scalar(query)
        if site_id is None:
            raise InvalidInput(f"--site[{index}]", f"no site {name!r}")
        ids.append(site_id)
    return ids


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="the user's role")],
    site: Annotated[
        list[str] | None, typer.Option(help="site name or id (usa; repeatable)")
    ] = None,
    full_name: Annotated[str, typer.Option(help="display name")] = "",
    email: Annotated[str, typer.Option(help="e-mail address")] = "",
    password_stdin: Annotated[
        bool, typer.Option(help="read the password from standard input")
    ] = False,
) -> None:
    """Add a user; prompts for a password on a terminal."""
    password = _read_password(password_stdin)

    async def add(_: Controller, session: AsyncSession, actor: Actor) -> User:
        site_ids = await _site_ids(session, site or [])
        return await users.create_user(
            session, actor, username=username, role=role, password=password, site_ids=site_ids,
            full_name=full_name, email=email,
        )  # fmt: skip

    user = run_task(add)
    typer.echo(f"added user {user.username} (id {user.id}, {user.role})")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List users."""

    async def collect(
        _: Controller, session: AsyncSession, actor: Actor
    ) -> list[dict[str, object]]:
        rows, cursor = [], None
        while True:
            page = await users.list_users(session, actor, limit=1000, cursor=cursor)
            rows += [{"id": u.id, **users.snapshot(u)} for u in page.items]
            if (cursor := page.next_cursor) is None:
                return rows

    rows = run_task(collect)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "username", "role", "sites", "name", "e-mail", "disabled")
    for r in rows:
        table.add_row(
            *(
                str(r[k])
                for k in ("id", "username", "role", "site_ids", "full_name", "email", "disabled")
            )
        )
    Console().print(table)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="username (or id) of the owner")],
    name: Annotated[str, typer.Option(help="what the token is for")],
    days: Annotated[int, typer.Option(help="lifetime in days", min=1, max=730)] = 90,
    role: Annotated[Role | None, typer.Option(help="a narrower role than the owner's")] = None,
) -> None:
    """Create an API token and print it (shown once)."""

    async def create(_: Controller, session: AsyncSession, actor: Actor) -> tokens.IssuedToken:
        query = (
            select(User.id).where(User.id == int(user))
            if user.isdigit()
            else select(User.id).where(User.username == user)
        )
        user_id = await session.scalar(query)
        if user_id is None:
            raise InvalidInput("--user", f"no user {user!r}")
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        return await tokens.create_token(
            session, actor, name=name, user_id=user_id, expires_at=expires, role=role
        )

    issued = run_task(create)
    typer.echo(
        json.dumps(
            {
                "id": issued.row.id,
                "token": issued.token,
                "expires_at": issued.row.expires_at.isoformat() if issued.row.expires_at else None,
            }
        )
    )


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke an API token: it stops working at once."""

    async def revoke(_: Controller, session: AsyncSession, actor: Actor) -> None:
        await tokens.revoke_token(session, actor, token_id)

    run_task(revoke)
    typer.echo(f"revoked token {token_id}")
