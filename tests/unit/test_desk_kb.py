"""The knowledge base in-process, on SQLite and PostgreSQL: versions, publishing, who sees
what, full-text search and suggestions, articles written up from tickets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from databases import BACKENDS, fresh_database
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from controller.access.actor import Actor
from controller.access.roles import Role
from controller.desk import kb
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.settings import async_database_url
from controller.storage.db import SessionFactory, create_engine, session_factory
from controller.storage.migrate import alembic_config, upgrade
from controller.storage.models import AuditEvent, Category, KbArticle, Ticket, ticket_articles

REQUESTER = Actor(name="rita", role=Role.REQUESTER, user_id=None)
TIER1 = Actor(name="tom", role=Role.TIER1)
TIER2 = Actor(name="tess", role=Role.TIER2)


async def _article(
    sessions: SessionFactory, title: str, body: str, *, publish: bool = False, **more: Any
) -> int:
    async with sessions() as s:
        article = await kb.create(s, TIER1, {"title": title, "body": body, **more})
        if publish:
            await kb.publish(s, TIER2, article.id)
        return article.id


async def _search(sessions: SessionFactory, actor: Actor, q: str) -> list[int]:
    async with sessions() as s:
        return [a.id for a in await kb.search(s, actor, q)]


async def test_create_is_a_draft_and_text_edits_make_versions(sessions: SessionFactory) -> None:
    async with sessions() as s:
        article = await kb.create(
            s,
            TIER1,
            {"title": " VPN drops ", "body": "Reconnect.", "tags": ["VPN", "vpn", " Network "]},
        )
        assert (article.state, article.version, article.author) == ("draft", 1, "tom")
        assert article.title == "VPN drops"
        assert article.tags == ["vpn", "network"]
        same = await kb.update(s, TIER1, article.id, {"tags": ["vpn"], "playbooks": ["vpn.reset"]})
        assert same.version == 1
        edited = await kb.update(s, TIER2, article.id, {"body": "Reconnect, then reboot."})
        assert edited.version == 2
        page = await kb.versions(s, TIER1, article.id, limit=10, cursor=None)
        assert [(v.version, v.editor, v.body) for v in page.items] == [
            (2, "tess", "Reconnect, then reboot."),
            (1, "tom", "Reconnect."),
        ]
        first = await kb.versions(s, TIER1, article.id, limit=1, cursor=None)
        rest = await kb.versions(s, TIER1, article.id, limit=1, cursor=first.next_cursor)
        assert [v.version for v in first.items + rest.items] == [2, 1]
        actions = await s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "kb_article", AuditEvent.object_id == str(article.id))
            .order_by(AuditEvent.id)
        )
        assert list(actions) == ["create", "update", "update"]


async def test_bad_input_names_the_field(sessions: SessionFactory) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": " ", "body": "x"}, "title"),
        ({"title": "t"}, "body"),
        ({"title": "t", "body": "x", "category_id": 987654}, "category_id"),
        ({"title": "t", "body": "x", "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"title": "t", "body": "x", "tags": ["x" * 51]}, "tags[0]"),
        ({"title": "t", "body": "x", "playbooks": ["ok", "rm -rf /"]}, "playbooks[1]"),
    ]
    async with sessions() as s:
        before = await s.scalar(select(func.count()).select_from(KbArticle))
        for values, field in cases:
            with pytest.raises(InvalidInput) as caught:
                await kb.create(s, TIER1, values)
            assert caught.value.field == field
        assert await s.scalar(select(func.count()).select_from(KbArticle)) == before


async def test_publishing_rules(sessions: SessionFactory) -> None:
    article_id = await _article(sessions, "Outlook keeps asking for a password", "Clear creds.")
    async with sessions() as s:
        with pytest.raises(Forbidden):
            await kb.publish(s, TIER1, article_id)
        with pytest.raises(Forbidden):
            await kb.create(s, REQUESTER, {"title": "t", "body": "b"})
        assert (await kb.publish(s, TIER2, article_id)).state == "published"
        with pytest.raises(Conflict):
            await kb.publish(s, TIER2, article_id)
        # A published article changes only by a publisher's hand, and stays published.
        with pytest.raises(Forbidden):
            await kb.update(s, TIER1, article_id, {"body": "Delete the profile."})
        edited = await kb.update(s, TIER2, article_id, {"body": "Clear the stored credentials."})
        assert (edited.state, edited.version) == ("published", 2)
        assert (await kb.get(s, REQUESTER, article_id)).body == "Clear the stored credentials."
        assert (await kb.unpublish(s, TIER2, article_id)).state == "draft"
        with pytest.raises(Conflict):
            await kb.unpublish(s, TIER2, article_id)


async def test_requesters_see_only_published_articles(sessions: SessionFactory) -> None:
    draft = await _article(sessions, "Quokka draft", "quokka")
    published = await _article(sessions, "Quokka published", "quokka", publish=True)
    async with sessions() as s:
        with pytest.raises(NotFound):
            await kb.get(s, REQUESTER, draft)
        assert (await kb.get(s, TIER1, draft)).id == draft
        assert (await kb.get(s, REQUESTER, published)).id == published
        seen = await kb.list_articles(s, REQUESTER, kb.ArticleFilter(), limit=1000, cursor=None)
        assert published in [a.id for a in seen.items]
        assert all(a.state == "published" for a in seen.items)
        drafts = kb.ArticleFilter(state="draft")
        assert (await kb.list_articles(s, REQUESTER, drafts, limit=10, cursor=None)).items == []
        with pytest.raises(Forbidden):
            await kb.versions(s, REQUESTER, published, limit=10, cursor=None)
        with pytest.raises(InvalidInput):
            await kb.list_articles(s, TIER1, kb.ArticleFilter(state="gone"), limit=10, cursor=None)
    assert await _search(sessions, REQUESTER, "quokka") == [published]
    assert sorted(await _search(sessions, TIER1, "quokka")) == sorted([draft, published])


async def test_list_filters_by_category_subtree_and_tag_with_paging(
    sessions: SessionFactory,
) -> None:
    async with sessions() as s:
        root = Category(name="Kit", path="Kit")
        s.add(root)
        await s.flush()
        child = Category(name="Printers", parent_id=root.id, path="Kit/Printers")
        # Shares the prefix "Kit" but is not under it.
        other = Category(name="Kitchen", path="Kitchen")
        s.add_all([child, other])
        await s.commit()
    in_root = await _article(sessions, "a", "b", category_id=root.id, tags=["wombat"])
    in_child = await _article(sessions, "c", "d", category_id=child.id, tags=["Wombat", "x"])
    await _article(sessions, "e", "f", category_id=other.id, tags=["wombats"])
    async with sessions() as s:

        async def ids(f: kb.ArticleFilter, limit: int = 100) -> list[int]:
            found: list[int] = []
            cursor = None
            while True:
                page = await kb.list_articles(s, TIER1, f, limit=limit, cursor=cursor)
                found += [a.id for a in page.items]
                if (cursor := page.next_cursor) is None:
                    return found

        assert await ids(kb.ArticleFilter(category_id=root.id), limit=1) == [in_child, in_root]
        assert await ids(kb.ArticleFilter(category_id=child.id)) == [in_child]
        assert await ids(kb.ArticleFilter(tag="WOMBAT")) == [in_child, in_root]
        assert await ids(kb.ArticleFilter(tag="wombat", category_id=child.id)) == [in_child]
        with pytest.raises(InvalidInput):
            await ids(kb.ArticleFilter(category_id=987654))


async def test_a_title_hit_ranks_above_a_body_hit(sessions: SessionFactory) -> None:
    in_body = await _article(
        sessions, "Mapping network shares", "If the narwhal share fails, remap it.", publish=True
    )
    in_title = await _article(
        sessions, "Narwhal share is unreachable", "Remap the drive.", publish=True
    )
    in_tags = await _article(sessions, "Share access", "Ask IT.", tags=["narwhal"], publish=True)
    found = await _search(sessions, REQUESTER, "narwhal")
    assert found[0] == in_title
    assert set(found) == {in_title, in_body, in_tags}
    # Every word must match; stop words do not count.
    assert await _search(sessions, REQUESTER, "the narwhal drive") == [in_title]
    assert await _search(sessions, REQUESTER, "how to") == []


async def test_search_follows_edits(sessions: SessionFactory) -> None:
    article_id = await _article(sessions, "Toner", "Replace the ocelot cartridge.", publish=True)
    assert await _search(sessions, REQUESTER, "ocelot") == [article_id]
    async with sessions() as s:
        await kb.update(s, TIER2, article_id, {"body": "Replace the pangolin cartridge."})
    assert await _search(sessions, REQUESTER, "ocelot") == []
    assert await _search(sessions, REQUESTER, "pangolin") == [article_id]
    async with sessions() as s:
        await kb.update(s, TIER2, article_id, {"tags": ["axolotl"]})
    assert await _search(sessions, REQUESTER, "axolotl") == [article_id]


async def test_unpublished_and_deleted_articles_leave_the_results(
    sessions: SessionFactory,
) -> None:
    gone = await _article(sessions, "Capybara crash", "Reinstall.", publish=True)
    hidden = await _article(sessions, "Capybara freeze", "Restart.", publish=True)
    assert sorted(await _search(sessions, REQUESTER, "capybara")) == sorted([gone, hidden])
    async with sessions() as s:
        await kb.unpublish(s, TIER2, hidden)
        with pytest.raises(Forbidden):
            await kb.delete(s, TIER1, gone)  # published: a publisher's call
        await kb.delete(s, TIER2, gone)
        with pytest.raises(NotFound):
            await kb.get(s, TIER2, gone)
    assert await _search(sessions, REQUESTER, "capybara") == []
    assert await _search(sessions, TIER1, "capybara") == [hidden]
    async with sessions() as s:
        assert await kb.suggest(s, REQUESTER, "capybara keeps crashing") == []


@pytest.mark.parametrize(
    "query",
    [
        'iguana"',
        '"iguana',
        "iguana*",
        "*iguana",
        "NEAR(iguana",
        "NEAR(iguana, 2)",
        "iguana OR",
        "OR iguana AND NOT",
        "-iguana",
        "iguana -printer",
        "title:iguana",
        "body : iguana",
        "iguana ^ { } ( ) + & | ! ' ; --",
        "iguana'; DROP TABLE kb_articles; --",
        "iguana_driver",
        "IGUANA Driver",
    ],
)
async def test_search_syntax_in_user_text_is_only_words(
    sessions: SessionFactory, query: str
) -> None:
    async with sessions() as s:
        existing = await s.scalar(select(KbArticle.id).where(KbArticle.title == "Iguana driver"))
    article_id = existing or await _article(
        sessions, "Iguana driver", "Install the driver.", publish=True
    )
    found = await _search(sessions, REQUESTER, query)
    # Operators are separators, their words plain words, and every word must match.
    expected = [article_id] if set(kb.words(query)) <= {"iguana", "driver"} else []
    assert found == expected


@pytest.mark.parametrize("query", ["", "   ", '"', "*", "(*)", "-", ":", "()", '""*'])
async def test_queries_without_a_word_are_refused(sessions: SessionFactory, query: str) -> None:
    async with sessions() as s:
        with pytest.raises(InvalidInput) as caught:
            await kb.search(s, REQUESTER, query)
        assert caught.value.field == "q"
        with pytest.raises(InvalidInput):
            await kb.search(s, REQUESTER, "printer", limit=0)


async def test_suggestions_for_a_new_ticket(sessions: SessionFactory) -> None:
    jam = await _article(
        sessions,
        "Clearing a Marmoset printer paper jam",
        "Open tray 2, pull the sheet out gently.",
        tags=["printer"],
        publish=True,
    )
    toner = await _article(
        sessions, "Marmoset toner low", "Order a cartridge from the portal.", publish=True
    )
    draft = await _article(sessions, "Marmoset jam (draft)", "jam jam jam")
    text = "Hi, please help! The marmoset printer on floor 3 shows a paper jam error again"
    async with sessions() as s:
        found = [a.id for a in await kb.suggest(s, REQUESTER, text)]
        assert found[:2] == [jam, toner]
        assert draft not in found
        assert len(await kb.suggest(s, REQUESTER, text, limit=1)) == 1
        assert await kb.suggest(s, REQUESTER, "hi, it is on, ok?") == []
        with pytest.raises(InvalidInput):
            await kb.suggest(s, REQUESTER, " ?! ")
    assert kb.words("The VPN-client's VPN error 0x80070005")[:4] == [
        "vpn",
        "client",
        "error",
        "0x80070005",
    ]


async def test_draft_from_a_resolved_ticket(sessions: SessionFactory) -> None:
    async with sessions() as s:
        ticket = Ticket(
            title="Teams camera black",
            description="The camera shows black in Teams calls.",
            channel="phone",
            state="resolved",
            resolution="Allowed camera access in Windows privacy settings.",
        )
        still_open = Ticket(title="Mouse", channel="phone", state="in_progress")
        s.add_all([ticket, still_open])
        await s.commit()
        with pytest.raises(Forbidden):
            await kb.draft_from_ticket(s, REQUESTER, ticket)
        with pytest.raises(Conflict):
            await kb.draft_from_ticket(s, TIER1, still_open)
        article = await kb.draft_from_ticket(s, TIER1, ticket)
        assert (article.state, article.title, article.source_ticket_id) == (
            "draft",
            "Teams camera black",
            ticket.id,
        )
        assert "shows black in Teams calls" in article.body
        assert "privacy settings" in article.body
        links = select(ticket_articles.c.article_id).where(ticket_articles.c.ticket_id == ticket.id)
        assert list(await s.scalars(links)) == [article.id]
        assert await kb.link(s, ticket.id, article.id) is False
        other = await kb.create(s, TIER1, {"title": "Camera drivers", "body": "Update them."})
        assert await kb.link(s, ticket.id, other.id) is True
        await s.commit()
        assert sorted(await s.scalars(links)) == sorted([article.id, other.id])
    assert await _search(sessions, TIER1, "privacy camera") == [article.id]


def _migrate(connection: Connection, target: str, down: bool) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, target)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_indexes_articles_it_finds_and_goes_back_down(
    backend: str, tmp_path: Path
) -> None:
    async def run(url: str) -> None:
        engine = create_engine(url)
        async with engine.begin() as c:
            await c.run_sync(_migrate, "0006", False)
        sessions = session_factory(engine)
        async with sessions() as s:
            s.add(KbArticle(title="Older gecko note", body="b", state="published", author="a"))
            await s.commit()
        await upgrade(engine)
        assert len(await _search(sessions, REQUESTER, "gecko")) == 1
        async with engine.begin() as c:
            await c.run_sync(_migrate, "0006", True)
            if backend == "sqlite":
                gone = "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'kb_articles_fts%'"
            else:
                gone = (
                    "SELECT COUNT(*) FROM information_schema.columns "
                    "WHERE table_name = 'kb_articles' AND column_name = 'search_vector'"
                )
            assert await c.scalar(text(gone)) == 0
        async with sessions() as s:  # writes work without the search machinery
            await kb.update(s, TIER2, 1, {"body": "gecko again"})
        await upgrade(engine)
        assert len(await _search(sessions, REQUESTER, "gecko")) == 1
        await engine.dispose()

    with fresh_database(backend, tmp_path) as url:
        asyncio.run(run(async_database_url(url)))
