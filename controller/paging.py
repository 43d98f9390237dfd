"""Keyset paging: a cursor is the sort key of the last item, so pages never drift or repeat."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from controller.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def _decode(cursor: str, width: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        values = None
    if not isinstance(values, list) or len(values) != width:
        raise InvalidInput("cursor", "not a cursor returned by this API")
    return values


async def keyset_page(
    session: AsyncSession,
    query: Select[T],
    keys: Sequence[InstrumentedAttribute[Any]],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> Page[T]:
    """One page of query ordered by keys (unique together), after cursor."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    key = tuple_(*keys) if len(keys) > 1 else keys[0]
    if cursor:
        after = _decode(cursor, len(keys))
        bound = tuple(after) if len(keys) > 1 else after[0]
        query = query.where(key < bound if newest_first else key > bound)
    order = [k.desc() if newest_first else k for k in keys]
    rows = list((await session.scalars(query.order_by(*order).limit(limit + 1))).unique())
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = _encode([getattr(items[-1], k.key) for k in keys])
    return Page(items, next_cursor)
