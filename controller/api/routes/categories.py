"""Categories: the tree tickets, articles, SLA policies and routing rules are filed under."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.fields import Name
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.desk import categories
from controller.storage.models import Category

router = APIRouter(prefix="/categories", tags=["categories"])
# Everyone who opens tickets picks a category.
Reader = Annotated[Actor, Depends(allowed(Permission.TICKETS_OWN))]
Writer = Annotated[Actor, Depends(allowed(Permission.DESK_CONFIG))]


class CategoryCreate(BaseModel):
    name: Name = Field(description='no "/": it separates the levels of a path')
    parent_id: int | None = Field(default=None, description="null: a top-level category")


class CategoryUpdate(PatchModel):
    """A new name or parent rewrites the paths of the whole subtree."""

    nullable = frozenset({"parent_id"})

    name: Name | None = None
    parent_id: int | None = None


class CategoryPublic(BaseModel):
    id: int
    name: str
    parent_id: int | None
    path: str = Field(description='the names from the root, joined by "/"')
    created_at: dt.datetime

    @classmethod
    def of(cls, category: Category) -> CategoryPublic:
        return cls(id=category.id, **categories.snapshot(category), created_at=category.created_at)


@router.get("")
async def list_(
    session: SessionDep, actor: Reader, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[CategoryPublic]:
    page = await categories.list_categories(session, actor, limit=limit, cursor=cursor)
    return PageOf(items=[CategoryPublic.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: CategoryCreate, session: SessionDep, actor: Writer) -> CategoryPublic:
    return CategoryPublic.of(await categories.create_category(session, actor, body.model_dump()))


@router.get("/{category_id}")
async def get(category_id: int, session: SessionDep, actor: Reader) -> CategoryPublic:
    return CategoryPublic.of(await categories.get_category(session, actor, category_id))


@router.patch("/{category_id}")
async def update(
    category_id: int, body: CategoryUpdate, session: SessionDep, actor: Writer
) -> CategoryPublic:
    changes = body.model_dump(exclude_unset=True)
    return CategoryPublic.of(await categories.update_category(session, actor, category_id, changes))


@router.delete("/{category_id}", status_code=204)
async def delete(category_id: int, session: SessionDep, actor: Writer) -> Response:
    await categories.delete_category(session, actor, category_id)
    return Response(status_code=204)
