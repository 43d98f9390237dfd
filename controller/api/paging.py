"""Query parameters and the response shape every list route shares."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


class PageOf(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
