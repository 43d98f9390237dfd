"""The knowledge base: articles, their versions, publishing, search and suggestions.

Everyone with kb:read sees published articles; writers (kb:write) also see drafts, write
them and read old versions; publishers (kb:publish) publish, unpublish and edit what is
published.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.api.deps import SessionDep, allowed
from controller.api.paging import Cursor, Limit, PageOf
from controller.api.patching import PatchModel
from controller.desk import kb
from controller.storage.models import KbArticle

router = APIRouter(prefix="/kb", tags=["knowledge base"])
Reader = Annotated[Actor, Depends(allowed(Permission.KB_READ))]
Writer = Annotated[Actor, Depends(allowed(Permission.KB_WRITE))]
Publisher = Annotated[Actor, Depends(allowed(Permission.KB_PUBLISH))]

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=kb.MAX_BODY)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Playbook = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
Tags = Annotated[list[Tag], Field(max_length=kb.MAX_TAGS, description="kept in lower case")]
Playbooks = Annotated[
    list[Playbook], Field(max_length=kb.MAX_PLAYBOOKS, description="names of playbooks")
]
ResultLimit = Annotated[int, Query(ge=1, le=kb.MAX_RESULTS, description="at most this many")]


class ArticleCreate(BaseModel):
    title: Title
    body: Body = Field(description="Markdown")
    category_id: int | None = None
    tags: Tags = Field(default_factory=list)
    playbooks: Playbooks = Field(default_factory=list)


class ArticleUpdate(PatchModel):
    nullable = frozenset({"category_id"})

    title: Title | None = None
    body: Body | None = None
    category_id: int | None = None
    tags: Tags | None = None
    playbooks: Playbooks | None = None


class ArticleSummary(BaseModel):
    id: int
    title: str
    category_id: int | None
    tags: list[str]
    playbooks: list[str]
    state: str
    version: int
    updated_at: dt.datetime
    excerpt: str = Field(description="the start of the body")

    @classmethod
    def of(cls, article: KbArticle) -> ArticleSummary:
        fields = {f: getattr(article, f) for f in cls.model_fields if f != "excerpt"}
        return cls(**fields, excerpt=" ".join(article.body[:400].split())[:200])


class ArticlePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    body: str
    category_id: int | None
    tags: list[str]
    playbooks: list[str]
    state: str
    version: int
    source_ticket_id: int | None
    author: str
    created_at: dt.datetime
    updated_at: dt.datetime


class VersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    title: str
    body: str
    editor: str
    at: dt.datetime


class Results(BaseModel):
    items: list[ArticleSummary] = Field(description="best first")


@router.get("")
async def list_(
    session: SessionDep,
    actor: Reader,
    state: Literal["draft", "published"] | None = None,
    category_id: Annotated[int | None, Query(description="this category and below")] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PageOf[ArticleSummary]:
    """Newest first."""
    f = kb.ArticleFilter(state=state, category_id=category_id, tag=tag)
    page = await kb.list_articles(session, actor, f, limit=limit, cursor=cursor)
    return PageOf(items=[ArticleSummary.of(a) for a in page.items], next_cursor=page.next_cursor)


@router.get("/search")
async def search(
    session: SessionDep,
    actor: Reader,
    q: Annotated[str, Query(min_length=1, max_length=500, description="words, all wanted")],
    limit: ResultLimit = 20,
) -> Results:
    """Articles holding every word of q (common words aside). Quotes, `*`, `OR`, `-` and
    the like are plain separators, not operators."""
    found = await kb.search(session, actor, q, limit=limit)
    return Results(items=[ArticleSummary.of(a) for a in found])


@router.get("/suggest")
async def suggest(
    session: SessionDep,
    actor: Reader,
    text: Annotated[
        str, Query(min_length=1, max_length=10_000, description="a ticket's title and description")
    ],
    limit: ResultLimit = 5,
) -> Results:
    """Articles that may answer a new ticket: any of its meaningful words, best first."""
    found = await kb.suggest(session, actor, text, limit=limit)
    return Results(items=[ArticleSummary.of(a) for a in found])


@router.post("", status_code=201)
async def create(body: ArticleCreate, session: SessionDep, actor: Writer) -> ArticlePublic:
    """A draft, version 1."""
    return ArticlePublic.model_validate(await kb.create(session, actor, body.model_dump()))


@router.get("/{article_id}")
async def get(article_id: int, session: SessionDep, actor: Reader) -> ArticlePublic:
    return ArticlePublic.model_validate(await kb.get(session, actor, article_id))


@router.patch("/{article_id}")
async def update(
    article_id: int, body: ArticleUpdate, session: SessionDep, actor: Writer
) -> ArticlePublic:
    """A new title or body makes a new version. A published article needs kb:publish."""
    changes = body.model_dump(exclude_unset=True)
    return ArticlePublic.model_validate(await kb.update(session, actor, article_id, changes))


@router.get("/{article_id}/versions")
async def versions(
    article_id: int, session: SessionDep, actor: Writer, limit: Limit = 100, cursor: Cursor = None
) -> PageOf[VersionPublic]:
    """Newest first."""
    page = await kb.versions(session, actor, article_id, limit=limit, cursor=cursor)
    return PageOf(
        items=[VersionPublic.model_validate(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.post("/{article_id}/publish")
async def publish(article_id: int, session: SessionDep, actor: Publisher) -> ArticlePublic:
    return ArticlePublic.model_validate(await kb.publish(session, actor, article_id))


@router.post("/{article_id}/unpublish")
async def unpublish(article_id: int, session: SessionDep, actor: Publisher) -> ArticlePublic:
    """Back to draft: requesters no longer see it."""
    return ArticlePublic.model_validate(await kb.unpublish(session, actor, article_id))
