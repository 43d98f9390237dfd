"""The knowledge base: articles and their versions, publishing, full-text search, and
suggestions for a new ticket.

Who sees what: every holder of kb:read sees published articles; kb:write holders also see
drafts, and write. kb:publish publishes and unpublishes, and is needed to edit or delete an
article that is published, since such an edit reaches requesters at once. An article a
caller may not see does not exist for them (404).

Every title or body change makes a new version (kb_article_versions) with its editor and
time; audit records carry the version number, not the text, which the versions hold.

Search never hands user text to the search engine's own syntax. The text is split into
words (letters, digits); common English words are dropped; each word becomes a quoted FTS5
string (SQLite) or a plainto_tsquery (PostgreSQL), so quotes, `*`, `NEAR(`, `OR`, `-` and
`:` are only separators. search() wants every word (AND); suggest() any of them (OR).
Both rank best first: a hit in the title counts most, then one in the body, then one in
the tags (PostgreSQL weights A, B, C; SQLite bm25 weights 10, 4, 2 to match).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    bindparam,
    exists,
    func,
    literal_column,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.storage.models import Category, KbArticle, KbArticleVersion, Ticket, ticket_articles
from controller.storage.types import utcnow

DRAFT, PUBLISHED = "draft", "published"
STATES = (DRAFT, PUBLISHED)
MAX_TITLE, MAX_BODY = 300, 100_000
MAX_TAGS, MAX_TAG = 20, 50
MAX_PLAYBOOKS, MAX_PLAYBOOK = 20, 100
MAX_SEARCH_TERMS, MAX_SUGGEST_TERMS = 16, 12
MAX_RESULTS = 50
_PLAYBOOK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_WORD = re.compile(r"[^\W_]+")  # Unicode letters and digits; `_` and punctuation separate

# PostgreSQL's English stop words (a superset keeps both backends' results alike), and
# the small talk of ticket text.
_STOPWORDS = """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now also get got could would may might must cannot since still yet
    hello hi hey please thanks thank regards dear hope anyone someone something"""
STOPWORDS = frozenset(_STOPWORDS.split())


def snapshot(article: KbArticle) -> dict[str, Any]:
    return {
        "title": article.title,
        "tags": list(article.tags),
        "category_id": article.category_id,
        "playbooks": list(article.playbooks),
        "state": article.state,
        "version": article.version,
        "source_ticket_id": article.source_ticket_id,
    }


def sees_drafts(actor: Actor) -> bool:
    return actor.can(Permission.KB_WRITE)


def _visible(query: Select[KbArticle], actor: Actor) -> Select[KbArticle]:
    return query if sees_drafts(actor) else query.where(KbArticle.state == PUBLISHED)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# -- checking input -------------------------------------------------------------------


def _text(field: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(field, f"at most {limit} characters")
    return value.strip() if field == "title" else value


def _names(
    field: str, value: Any, most: int, longest: int, shape: re.Pattern[str] | None
) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInput(field, "must be a list")
    names: list[str] = []
    for index, raw in enumerate(value):
        name = raw.strip() if isinstance(raw, str) else ""
        name = name.lower() if shape is None else name
        if not name or len(name) > longest:
            raise InvalidInput(f"{field}[{index}]", f"1 to {longest} characters")
        if shape is not None and not shape.fullmatch(name):
            raise InvalidInput(f"{field}[{index}]", "letters, digits, '.', '_' and '-' only")
        if name not in names:
            names.append(name)
    if len(names) > most:
        raise InvalidInput(field, f"at most {most}")
    return names


async def _checked(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of values that an article has, checked and normalised (tags lower case)."""
    checked: dict[str, Any] = {}
    if "title" in values:
        checked["title"] = _text("title", values["title"], MAX_TITLE)
    if "body" in values:
        checked["body"] = _text("body", values["body"], MAX_BODY)
    if "tags" in values:
        checked["tags"] = _names("tags", values["tags"], MAX_TAGS, MAX_TAG, None)
    if "playbooks" in values:
        checked["playbooks"] = _names(
            "playbooks", values["playbooks"], MAX_PLAYBOOKS, MAX_PLAYBOOK, _PLAYBOOK
        )
    if "category_id" in values:
        category_id = values["category_id"]
        if category_id is not None and await session.get(Category, category_id) is None:
            raise InvalidInput("category_id", f"no category with id {category_id}")
        checked["category_id"] = category_id
    return checked


# -- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleFilter:
    state: str | None = None
    category_id: int | None = None  # the category and every category below it
    tag: str | None = None


async def get(session: AsyncSession, actor: Actor, article_id: int) -> KbArticle:
    actor.require(Permission.KB_READ)
    article = await session.get(KbArticle, article_id)
    if article is None or (article.state != PUBLISHED and not sees_drafts(actor)):
        raise NotFound("article", article_id)
    return article


async def list_articles(
    session: AsyncSession, actor: Actor, f: ArticleFilter, *, limit: int, cursor: str | None
) -> Page[KbArticle]:
    """Newest first."""
    actor.require(Permission.KB_READ)
    query = _visible(select(KbArticle), actor)
    if f.state is not None:
        if f.state not in STATES:
            raise InvalidInput("state", f"one of {', '.join(STATES)}")
        query = query.where(KbArticle.state == f.state)
    if f.category_id is not None:
        category = await session.get(Category, f.category_id)
        if category is None:
            raise InvalidInput("category_id", f"no category with id {f.category_id}")
        subtree = select(Category.id).where(
            (Category.path == category.path)
            | Category.path.startswith(category.path + "/", autoescape=True)
        )
        query = query.where(KbArticle.category_id.in_(subtree))
    if f.tag is not None:
        query = query.where(_has_tag(session, f.tag.strip().lower()))
    return await keyset_page(
        session, query, (KbArticle.id,), limit=limit, cursor=cursor, newest_first=True
    )


def _has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    if _dialect(session) == "postgresql":
        return KbArticle.tags.bool_op("@>")(bindparam("tag", [tag], type_=JSONB))
    each = func.json_each(KbArticle.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


async def versions(
    session: AsyncSession, actor: Actor, article_id: int, *, limit: int, cursor: str | None
) -> Page[KbArticleVersion]:
    """Newest first; for writers only, since old versions may hold what was taken out."""
    actor.require(Permission.KB_WRITE)
    await get(session, actor, article_id)
    query = select(KbArticleVersion).where(KbArticleVersion.article_id == article_id)
    return await keyset_page(
        session, query, (KbArticleVersion.version,), limit=limit, cursor=cursor, newest_first=True
    )


# -- writing ---------------------------------------------------------------------------


def _add_version(session: AsyncSession, actor: Actor, article: KbArticle) -> None:
    row = KbArticleVersion(article_id=article.id, version=article.version, editor=actor.name)
    row.title, row.body, row.at = article.title, article.body, utcnow()
    session.add(row)


async def _new(
    session: AsyncSession, actor: Actor, values: dict[str, Any], **extra: Any
) -> KbArticle:
    checked = await _checked(session, values)
    for field in ("title", "body"):
        if field not in checked:
            raise InvalidInput(field, "is required")
    article = KbArticle(**checked, **extra, state=DRAFT, version=1, author=actor.name)
    session.add(article)
    await session.flush()
    _add_version(session, actor, article)
    audit.record(session, actor, "create", "kb_article", article.id, after=snapshot(article))
    return article


async def create(session: AsyncSession, actor: Actor, values: dict[str, Any]) -> KbArticle:
    """A draft, version 1."""
    actor.require(Permission.KB_WRITE)
    article = await _new(session, actor, values)
    await session.commit()
    return article


async def _writable(session: AsyncSession, actor: Actor, article_id: int) -> KbArticle:
    actor.require(Permission.KB_WRITE)
    article = await get(session, actor, article_id)
    if article.state == PUBLISHED and not actor.can(Permission.KB_PUBLISH):
        raise Forbidden(f"article {article_id} is published: changing it needs kb:publish")
    return article


async def update(
    session: AsyncSession, actor: Actor, article_id: int, changes: dict[str, Any]
) -> KbArticle:
    """Change some of the fields; a new title or body makes a new version. A published
    article stays published, showing the new version."""
    article = await _writable(session, actor, article_id)
    checked = await _checked(session, changes)
    before = snapshot(article)
    new_text = any(checked[f] != getattr(article, f) for f in ("title", "body") if f in checked)
    for field, value in checked.items():
        setattr(article, field, value)
    if new_text:
        article.version += 1
        _add_version(session, actor, article)
    after = snapshot(article)
    if after == before:
        return article
    audit.record(session, actor, "update", "kb_article", article.id, before=before, after=after)
    await session.commit()
    await session.refresh(article)
    return article


async def _set_state(session: AsyncSession, actor: Actor, article_id: int, state: str) -> KbArticle:
    actor.require(Permission.KB_PUBLISH)
    article = await get(session, actor, article_id)
    if article.state == state:
        raise Conflict(f"article {article_id} is already {state}")
    before = snapshot(article)
    article.state = state
    action, after = "publish" if state == PUBLISHED else "unpublish", snapshot(article)
    audit.record(session, actor, action, "kb_article", article.id, before=before, after=after)
    await session.commit()
    await session.refresh(article)
    return article


async def publish(session: AsyncSession, actor: Actor, article_id: int) -> KbArticle:
    return await _set_state(session, actor, article_id, PUBLISHED)


async def unpublish(session: AsyncSession, actor: Actor, article_id: int) -> KbArticle:
    """Back to draft: requesters no longer see it."""
    return await _set_state(session, actor, article_id, DRAFT)


async def delete(session: AsyncSession, actor: Actor, article_id: int) -> None:
    article = await _writable(session, actor, article_id)
    audit.record(session, actor, "delete", "kb_article", article.id, before=snapshot(article))
    await session.delete(article)
    await session.commit()


async def link(session: AsyncSession, ticket_id: int, article_id: int) -> bool:
    """Tie an article to a ticket in the caller's transaction (which commits and records
    it); False when they were tied already."""
    tied = await session.scalar(
        select(func.count())
        .select_from(ticket_articles)
        .where(ticket_articles.c.ticket_id == ticket_id, ticket_articles.c.article_id == article_id)
    )
    if tied:
        return False
    await session.execute(
        ticket_articles.insert().values(ticket_id=ticket_id, article_id=article_id)
    )
    return True


async def draft_from_ticket(session: AsyncSession, actor: Actor, ticket: Ticket) -> KbArticle:
    """A draft written up from a resolved (or closed) ticket: its title, the problem as
    described and the resolution; linked to the ticket."""
    actor.require(Permission.KB_WRITE)
    if ticket.state not in ("resolved", "closed"):
        raise Conflict(
            f"ticket {ticket.id} is {ticket.state}: only a resolved ticket is written up"
        )
    problem = ticket.description.strip() or ticket.title
    resolution = ticket.resolution.strip() or "(no resolution was recorded)"
    body = f"## Problem\n\n{problem}\n\n## Resolution\n\n{resolution}\n"
    values = {
        "title": ticket.title.strip()[:MAX_TITLE],
        "body": body[:MAX_BODY],
        "category_id": ticket.category_id,
    }
    article = await _new(session, actor, values, source_ticket_id=ticket.id)
    await link(session, ticket.id, article.id)
    await session.commit()
    return article


# -- search ----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """The distinct words of text, lower case, in order, stop words dropped."""
    return [w for w in dict.fromkeys(_WORD.findall(text.lower())) if w not in STOPWORDS]


def _fts5_match(terms: list[str], joiner: str) -> str:
    return f" {joiner} ".join('"' + t.replace('"', '""') + '"' for t in terms)


async def _ranked(
    session: AsyncSession, actor: Actor, terms: list[str], *, every: bool, limit: int
) -> list[KbArticle]:
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput("limit", f"must be between 1 and {MAX_RESULTS}")
    if _dialect(session) == "postgresql":
        config: ColumnElement[Any] = literal_column("'english'::regconfig")
        query: ColumnElement[Any] = func.plainto_tsquery(config, terms[0])
        for term in terms[1:]:
            query = query.op("&&" if every else "||")(func.plainto_tsquery(config, term))
        vector = literal_column("kb_articles.search_vector", TSVECTOR)
        found = select(KbArticle).where(vector.bool_op("@@")(query))
        order = func.ts_rank(vector, query).desc()
    else:
        hits = (
            sql_text(
                "SELECT rowid AS id, bm25(kb_articles_fts, 10.0, 4.0, 2.0) AS score "
                "FROM kb_articles_fts WHERE kb_articles_fts MATCH :match"
            )
            .bindparams(match=_fts5_match(terms, "AND" if every else "OR"))
            .columns(id=Integer, score=Float)
            .subquery("hits")
        )
        found = select(KbArticle).join(hits, hits.c.id == KbArticle.id)
        order = hits.c.score.asc()  # bm25: lower is better
    query_ = _visible(found, actor).order_by(order, KbArticle.id.desc()).limit(limit)
    return list(await session.scalars(query_))


async def search(
    session: AsyncSession, actor: Actor, query: str, *, limit: int = 20
) -> list[KbArticle]:
    """Articles holding every word of query (stop words aside), best first."""
    actor.require(Permission.KB_READ)
    if not _WORD.search(query):
        raise InvalidInput("q", "give at least one word or number to search for")
    terms = words(query)[:MAX_SEARCH_TERMS]
    if not terms:
        return []  # only words like "the" or "how": nothing worth matching
    return await _ranked(session, actor, terms, every=True, limit=limit)


async def suggest(
    session: AsyncSession, actor: Actor, text: str, *, limit: int = 5
) -> list[KbArticle]:
    """Articles for a new ticket's title and description: any of its first meaningful words
    (three characters or more), best first."""
    actor.require(Permission.KB_READ)
    if not _WORD.search(text):
        raise InvalidInput("text", "give the ticket's title or description")
    terms = [w for w in words(text) if len(w) >= 3][:MAX_SUGGEST_TERMS]
    if not terms:
        return []
    return await _ranked(session, actor, terms, every=False, limit=limit)
