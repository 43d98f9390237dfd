"""The category tree that tickets, knowledge articles, SLA policies and routing rules name.

A category's path is the names from the root down to it joined by "/" ("Software/E-mail"),
unique across the tree, so a name is unique among its siblings. Renaming or moving a
category rewrites the paths of its whole subtree in the same transaction; a category that
is still in use (children, tickets, articles, policies, rules) cannot be deleted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import Conflict, InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.storage.models import Category, KbArticle, RoutingRule, SlaPolicy, Ticket
from controller.storage.unique import unique

FIELDS = ("name", "parent_id", "path")
MAX_NAME = 100
MAX_PATH = 500  # the width of categories.path


def snapshot(category: Category) -> dict[str, Any]:
    return {field: getattr(category, field) for field in FIELDS}


async def serialize_writes(session: AsyncSession, table: str) -> None:
    """One writer at a time on a table whose rules span rows (the paths of a subtree, one
    SLA policy per priority, site and category); readers are never held up.

    Taken first in a write, so every check after it reads what other writers committed.
    SQLite allows a single writer anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE'))


def check_name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("name", "a string")
    name = value.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput("name", f"1 to {MAX_NAME} characters")
    if "/" in name:
        raise InvalidInput("name", 'must not contain "/": it separates the levels of a path')
    return name


async def _parent(session: AsyncSession, parent_id: object) -> Category | None:
    if parent_id is None:
        return None
    if not isinstance(parent_id, int) or isinstance(parent_id, bool):
        raise InvalidInput("parent_id", "a category id or null (a top-level category)")
    parent = await session.get(Category, parent_id)
    if parent is None:
        raise InvalidInput("parent_id", f"no category {parent_id}")
    return parent


def _path(parent: Category | None, name: str, field: str) -> str:
    path = name if parent is None else f"{parent.path}/{name}"
    if len(path) > MAX_PATH:
        raise InvalidInput(field, f"the path {path[:60]!r}... would be over {MAX_PATH} characters")
    return path


async def _refuse_taken(session: AsyncSession, path: str) -> None:
    if await session.scalar(select(Category.id).where(Category.path == path)) is not None:
        raise Conflict(f"a category {path!r} exists")


async def list_categories(
    session: AsyncSession, actor: Actor, *, limit: int, cursor: str | None
) -> Page[Category]:
    # Everyone who opens tickets picks a category.
    actor.require(Permission.TICKETS_OWN)
    return await keyset_page(session, select(Category), (Category.id,), limit=limit, cursor=cursor)


async def get_category(session: AsyncSession, actor: Actor, category_id: int) -> Category:
    actor.require(Permission.TICKETS_OWN)
    category = await session.get(Category, category_id)
    if category is None:
        raise NotFound("category", category_id)
    return category


async def create_category(session: AsyncSession, actor: Actor, values: dict[str, Any]) -> Category:
    actor.require(Permission.DESK_CONFIG)
    await serialize_writes(session, Category.__tablename__)
    name = check_name(values.get("name"))
    parent = await _parent(session, values.get("parent_id"))
    path = _path(parent, name, "name")
    await _refuse_taken(session, path)
    category = Category(name=name, parent_id=parent.id if parent else None, path=path)
    session.add(category)
    await unique(session, session.flush, f"a category {path!r} exists")
    audit.record(session, actor, "create", "category", category.id, after=snapshot(category))
    await session.commit()
    return category


async def update_category(
    session: AsyncSession, actor: Actor, category_id: int, changes: dict[str, Any]
) -> Category:
    """Rename (name) or move (parent_id: another category, or null for the top level)."""
    actor.require(Permission.DESK_CONFIG)
    await serialize_writes(session, Category.__tablename__)
    category = await get_category(session, actor, category_id)
    await session.refresh(category)  # as committed, now that other writers wait
    name = check_name(changes["name"]) if "name" in changes else category.name
    if "parent_id" in changes:
        parent = await _parent(session, changes["parent_id"])
        if parent is not None and (
            parent.id == category.id or parent.path.startswith(category.path + "/")
        ):
            raise InvalidInput(
                "parent_id",
                f"category {parent.id} ({parent.path!r}) is {category.path!r} or inside it: "
                "a category cannot move under itself or its own descendants",
            )
    else:
        parent = await _parent(session, category.parent_id)
    field = "parent_id" if "parent_id" in changes else "name"
    old_path, new_path = category.path, _path(parent, name, field)
    before = snapshot(category)
    if new_path != old_path:
        await _refuse_taken(session, new_path)
        # Not LIKE: SQLite's ignores case, and "Printers/..." is not "printers/...".
        prefix = old_path + "/"
        subtree = await session.scalars(
            select(Category).where(func.substr(Category.path, 1, len(prefix)) == prefix)
        )
        moves = [(d, new_path + d.path[len(old_path) :]) for d in subtree]
        for descendant, path in moves:
            if len(path) > MAX_PATH:
                raise InvalidInput(
                    field,
                    f"the path of descendant {descendant.id} would be over {MAX_PATH} characters",
                )
        for descendant, path in moves:
            descendant.path = path
    category.name = name
    category.parent_id = parent.id if parent else None
    category.path = new_path
    audit.record(
        session, actor, "update", "category", category.id, before=before, after=snapshot(category)
    )
    await unique(session, session.commit, f"a category {new_path!r} exists")
    return category


async def _uses(session: AsyncSession, category_id: int) -> list[str]:
    uses = []
    columns: tuple[tuple[InstrumentedAttribute[int | None], str], ...] = (
        (Category.parent_id, "subcategories"),
        (Ticket.category_id, "tickets"),
        (KbArticle.category_id, "knowledge articles"),
        (SlaPolicy.category_id, "SLA policies"),
        (RoutingRule.category_id, "routing rules"),
    )
    for column, what in columns:
        count = await session.scalar(select(func.count()).where(column == category_id))
        if count:
            uses.append(f"{count} {what}")
    return uses


async def delete_category(session: AsyncSession, actor: Actor, category_id: int) -> None:
    actor.require(Permission.DESK_CONFIG)
    await serialize_writes(session, Category.__tablename__)
    # The row lock holds off tickets, articles, policies and rules that would name it.
    category = await session.get(
        Category, category_id, with_for_update=True, populate_existing=True
    )
    if category is None:
        raise NotFound("category", category_id)
    uses = await _uses(session, category_id)
    if uses:
        raise Conflict(
            f"category {category.path!r} is still used by {', '.join(uses)}; "
            "move or delete those first"
        )
    audit.record(session, actor, "delete", "category", category.id, before=snapshot(category))
    await session.delete(category)
    await session.commit()
