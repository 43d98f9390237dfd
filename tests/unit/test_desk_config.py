"""The desk's configuration in-process, on SQLite and PostgreSQL: the category tree and its
paths, business calendars, SLA policies, routing rules and webhooks."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from sqlalchemy import select

from controller.access.actor import Actor
from controller.access.roles import Role
from controller.desk import categories, config
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.storage.db import SessionFactory
from controller.storage.models import (
    AuditEvent,
    Category,
    KbArticle,
    Site,
    SlaPolicy,
    Team,
    Ticket,
    Webhook,
)

ADMIN = Actor(name="ada", role=Role.ADMIN)
TIER1 = Actor(name="tom", role=Role.TIER1)
REQUESTER = Actor(name="rita", role=Role.REQUESTER)
WEEK = {day: [["08:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
_unique = itertools.count()


def _name(prefix: str) -> str:
    """The database lives for the module: every test names its own objects."""
    return f"{prefix}{next(_unique)}"


async def _category(sessions: SessionFactory, name: str, parent_id: int | None = None) -> int:
    async with sessions() as s:
        category = await categories.create_category(
            s, ADMIN, {"name": name, "parent_id": parent_id}
        )
        return category.id


async def _paths(sessions: SessionFactory, *ids: int) -> list[str]:
    async with sessions() as s:
        return [(await s.get_one(Category, i)).path for i in ids]


async def _row(sessions: SessionFactory, model: type[Any], **values: Any) -> int:
    async with sessions() as s:
        row = model(**values)
        s.add(row)
        await s.commit()
        return int(row.id)


# -- categories ------------------------------------------------------------------------


async def test_rename_and_move_rewrite_the_whole_subtree(sessions: SessionFactory) -> None:
    top, other = _name("Software"), _name("Hardware")
    root = await _category(sessions, top)
    mail = await _category(sessions, "E-mail", root)
    outlook = await _category(sessions, "Outlook", mail)
    deep = await _category(sessions, "Calendar", outlook)
    elsewhere = await _category(sessions, other)
    assert await _paths(sessions, mail, deep) == [f"{top}/E-mail", f"{top}/E-mail/Outlook/Calendar"]

    async with sessions() as s:
        await categories.update_category(s, ADMIN, mail, {"name": "Mail"})
    assert await _paths(sessions, root, mail, outlook, deep) == [
        top,
        f"{top}/Mail",
        f"{top}/Mail/Outlook",
        f"{top}/Mail/Outlook/Calendar",
    ]

    async with sessions() as s:
        await categories.update_category(s, ADMIN, mail, {"parent_id": elsewhere})
    assert await _paths(sessions, mail, outlook, deep) == [
        f"{other}/Mail",
        f"{other}/Mail/Outlook",
        f"{other}/Mail/Outlook/Calendar",
    ]

    async with sessions() as s:  # to the top level, renamed on the way
        moved = await categories.update_category(
            s, ADMIN, outlook, {"parent_id": None, "name": _name("Outlook")}
        )
        assert moved.parent_id is None
    assert await _paths(sessions, outlook, deep) == [moved.path, f"{moved.path}/Calendar"]
    assert await _paths(sessions, mail) == [f"{other}/Mail"]

    async with sessions() as s:
        events = list(
            await s.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "category", AuditEvent.object_id == str(mail))
                .order_by(AuditEvent.id)
            )
        )
        assert [e.action for e in events] == ["create", "update", "update"]
        assert events[1].before == {"name": "E-mail", "parent_id": root, "path": f"{top}/E-mail"}
        assert events[2].after == {"name": "Mail", "parent_id": elsewhere, "path": f"{other}/Mail"}


async def test_only_the_subtree_moves_whatever_the_case_of_its_neighbours(
    sessions: SessionFactory,
) -> None:
    top = _name("Case")
    upper = await _category(sessions, top)
    lower = await _category(sessions, top.lower())
    upper_child = await _category(sessions, "child", upper)
    lower_child = await _category(sessions, "child", lower)
    like_child = await _category(sessions, "x_y%", lower)
    async with sessions() as s:
        await categories.update_category(s, ADMIN, upper, {"name": _name("Moved")})
    assert (await _paths(sessions, upper_child))[0].endswith("/child")
    assert not (await _paths(sessions, upper_child))[0].startswith(top)
    assert await _paths(sessions, lower, lower_child, like_child) == [
        top.lower(),
        f"{top.lower()}/child",
        f"{top.lower()}/x_y%",
    ]


async def test_a_category_cannot_move_under_itself_or_its_descendants(
    sessions: SessionFactory,
) -> None:
    top = _name("Network")
    root = await _category(sessions, top)
    wifi = await _category(sessions, "WiFi", root)
    guest = await _category(sessions, "Guest", wifi)
    for target, parent in ((root, guest), (root, wifi), (wifi, wifi), (wifi, guest)):
        async with sessions() as s:
            with pytest.raises(InvalidInput) as refused:
                await categories.update_category(s, ADMIN, target, {"parent_id": parent})
            assert refused.value.field == "parent_id"
    assert await _paths(sessions, root, wifi, guest) == [top, f"{top}/WiFi", f"{top}/WiFi/Guest"]


async def test_names_and_siblings(sessions: SessionFactory) -> None:
    top = _name("Printers")
    root = await _category(sessions, top)
    await _category(sessions, "Jams", root)
    await _category(sessions, "Toner", root)
    async with sessions() as s:
        for values, field in (
            ({"name": "a/b", "parent_id": root}, "name"),
            ({"name": "  ", "parent_id": root}, "name"),
            ({"name": "x" * 101, "parent_id": root}, "name"),
            ({"name": "ok", "parent_id": 424242}, "parent_id"),
        ):
            with pytest.raises(InvalidInput) as refused:
                await categories.create_category(s, ADMIN, values)
            assert refused.value.field == field
        with pytest.raises(Conflict, match="exists"):
            await categories.create_category(s, ADMIN, {"name": "Jams", "parent_id": root})
    async with sessions() as s:
        toner = await s.scalar(select(Category.id).where(Category.path == f"{top}/Toner"))
        assert toner is not None
        with pytest.raises(Conflict, match="exists"):
            await categories.update_category(s, ADMIN, toner, {"name": "Jams"})
    # The same name under another parent is another path.
    other = await _category(sessions, _name("Scanners"))
    await _category(sessions, "Jams", other)


async def test_path_length_is_checked_for_the_whole_subtree(sessions: SessionFactory) -> None:
    root = await _category(sessions, _name("L"))
    parent = root
    for _ in range(4):
        parent = await _category(sessions, "n" * 100, parent)
    async with sessions() as s:
        with pytest.raises(InvalidInput) as refused:
            await categories.update_category(s, ADMIN, root, {"name": "x" * 100})
        assert refused.value.field == "name"


async def test_delete_is_refused_while_the_category_is_in_use(sessions: SessionFactory) -> None:
    root = await _category(sessions, _name("Accounts"))
    leaf = await _category(sessions, "Password", root)
    async with sessions() as s:
        with pytest.raises(Conflict, match="1 subcategories"):
            await categories.delete_category(s, ADMIN, root)

    team = await _row(sessions, Team, name=_name("team"))
    uses: list[tuple[type[Any], dict[str, Any], str]] = [
        (Ticket, {"title": "t", "channel": "phone"}, "1 tickets"),
        (KbArticle, {"title": "a", "body": "b", "author": "x"}, "1 knowledge articles"),
        (
            SlaPolicy,
            {"name": _name("p"), "priority": 1, "own_within_s": 1, "resolve_within_s": 1},
            "1 SLA policies",
        ),
        (config.RULES.model, {"team_id": team}, "1 routing rules"),
    ]
    for model, values, reason in uses:
        row = await _row(sessions, model, category_id=leaf, **values)
        async with sessions() as s:
            with pytest.raises(Conflict, match=reason):
                await categories.delete_category(s, ADMIN, leaf)
        async with sessions() as s:
            await s.delete(await s.get_one(model, row))
            await s.commit()

    async with sessions() as s:
        await categories.delete_category(s, ADMIN, leaf)
        await categories.delete_category(s, ADMIN, root)
    async with sessions() as s:
        assert await s.get(Category, root) is None
        with pytest.raises(NotFound):
            await categories.get_category(s, ADMIN, leaf)


async def test_who_may_read_and_write_categories(sessions: SessionFactory) -> None:
    root = await _category(sessions, _name("Phones"))
    async with sessions() as s:
        assert (await categories.get_category(s, REQUESTER, root)).id == root
        page = await categories.list_categories(s, REQUESTER, limit=1000, cursor=None)
        assert root in [c.id for c in page.items]
        with pytest.raises(Forbidden):
            await categories.create_category(s, TIER1, {"name": "x"})
        with pytest.raises(Forbidden):
            await categories.update_category(s, TIER1, root, {"name": "x"})
        with pytest.raises(Forbidden):
            await categories.delete_category(s, TIER1, root)


# -- business calendars ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"hours": {"mon": [["08:00", "12:00"]], "tue": [["8", "9"]]}}, "hours.tue[0]"),
        ({"hours": {"tue": [["08:00", "12:00"], ["25:00", "26:00"]]}}, "hours.tue[1]"),
        ({"hours": {"tue": [["08:00", "12:00"], ["11:00", "14:00"]]}}, "hours.tue[1]"),
        ({"hours": {"tue": [["12:00", "17:00"], ["08:00", "12:30"]]}}, "hours.tue[1]"),
        ({"hours": {"wed": [["17:00", "08:00"]]}}, "hours.wed[0]"),
        ({"hours": {"wed": [["08:00", "00:00"]]}}, "hours.wed[0]"),
        ({"hours": {"wed": [["08:00"]]}}, "hours.wed[0]"),
        ({"hours": {"monday": [["08:00", "17:00"]]}}, "hours.monday"),
        ({"hours": {"mon": "08:00-17:00"}}, "hours.mon"),
        ({"hours": {}}, "hours"),
        ({"hours": WEEK, "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"hours": WEEK, "timezone": "../etc/passwd"}, "timezone"),
        ({"hours": WEEK, "holidays": ["2026-12-25", "2026-02-30"]}, "holidays[1]"),
        ({"hours": WEEK, "holidays": ["2026-12-25", "25/12/2026"]}, "holidays[1]"),
        ({"hours": WEEK, "name": ""}, "name"),
    ],
)
async def test_calendar_errors_name_the_field(
    sessions: SessionFactory, values: dict[str, Any], field: str
) -> None:
    async with sessions() as s:
        count = len(list(await s.scalars(select(AuditEvent.id))))
        with pytest.raises(InvalidInput) as refused:
            await config.create(s, ADMIN, config.CALENDARS, {"name": _name("cal"), **values})
        assert refused.value.field == field, refused.value
    async with sessions() as s:
        assert len(list(await s.scalars(select(AuditEvent.id)))) == count


async def test_calendar_round_trip_and_delete_refused_while_a_policy_uses_it(
    sessions: SessionFactory,
) -> None:
    name = _name("Paris office")
    async with sessions() as s:
        calendar = await config.create(
            s,
            ADMIN,
            config.CALENDARS,
            {
                "name": name,
                "timezone": "Europe/Paris",
                "hours": {"mon": [["13:00", "18:00"], ["08:00", "12:00"]], "fri": []},
                "holidays": ["2026-12-25", "2026-01-01", "2026-12-25"],
            },
        )
    assert calendar.holidays == ["2026-01-01", "2026-12-25"]
    async with sessions() as s:
        with pytest.raises(Conflict, match="exists"):
            await config.create(s, ADMIN, config.CALENDARS, {"name": name, "hours": WEEK})
    async with sessions() as s:
        changed = await config.update(
            s, ADMIN, config.CALENDARS, calendar.id, {"hours": {"sat": [["10:00", "24:00"]]}}
        )
        assert changed.hours == {"sat": [["10:00", "24:00"]]}
        assert changed.timezone == "Europe/Paris"
        with pytest.raises(InvalidInput) as refused:
            await config.update(s, ADMIN, config.CALENDARS, calendar.id, {"timezone": "Nowhere"})
        assert refused.value.field == "timezone"
    async with sessions() as s:
        assert (await config.get(s, TIER1, config.CALENDARS, calendar.id)).timezone == (
            "Europe/Paris"
        )
        policy = await config.create(
            s,
            ADMIN,
            config.POLICIES,
            {
                "name": _name("with calendar"),
                "priority": 3,
                "category_id": await _category(sessions, _name("cal-cat")),
                "own_within_s": 60,
                "resolve_within_s": 60,
                "calendar_id": calendar.id,
            },
        )
    async with sessions() as s:
        with pytest.raises(Conflict, match=policy.name):
            await config.delete(s, ADMIN, config.CALENDARS, calendar.id)
    async with sessions() as s:
        await config.delete(s, ADMIN, config.POLICIES, policy.id)
    async with sessions() as s:
        await config.delete(s, ADMIN, config.CALENDARS, calendar.id)
        with pytest.raises(NotFound):
            await config.get(s, ADMIN, config.CALENDARS, calendar.id)


# -- SLA policies ----------------------------------------------------------------------


def _policy(**values: Any) -> dict[str, Any]:
    return {
        "name": _name("policy"),
        "priority": 2,
        "own_within_s": 900,
        "resolve_within_s": 8 * 3600,
        **values,
    }


async def test_one_policy_per_priority_site_and_category(sessions: SessionFactory) -> None:
    category = await _category(sessions, _name("sla"))
    site = await _row(sessions, Site, name=_name("site"))
    async with sessions() as s:
        first = await config.create(s, ADMIN, config.POLICIES, _policy(category_id=category))
        assert (first.warn_at_percent, first.use_site_timezone, first.breach_actions) == (
            75,
            True,
            [],
        )
        with pytest.raises(Conflict, match=first.name):
            await config.create(s, ADMIN, config.POLICIES, _policy(category_id=category))
    async with sessions() as s:
        # Other scopes are other policies.
        narrower = await config.create(
            s, ADMIN, config.POLICIES, _policy(category_id=category, site_id=site)
        )
        other = await config.create(
            s, ADMIN, config.POLICIES, _policy(category_id=category, priority=3)
        )
    async with sessions() as s:
        with pytest.raises(Conflict):
            await config.update(s, ADMIN, config.POLICIES, other.id, {"priority": 2})
    async with sessions() as s:
        with pytest.raises(Conflict):
            await config.update(s, ADMIN, config.POLICIES, narrower.id, {"site_id": None})
    async with sessions() as s:
        # Changing a policy without moving it is not a clash with itself.
        same = await config.update(s, ADMIN, config.POLICIES, first.id, {"warn_at_percent": 50})
        assert same.warn_at_percent == 50
        assert (await config.get(s, ADMIN, config.POLICIES, other.id)).priority == 3
    async with sessions() as s:
        with pytest.raises(Conflict, match="exists"):
            await config.create(
                s,
                ADMIN,
                config.POLICIES,
                _policy(name=first.name, category_id=category, priority=5),
            )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"priority": 0}, "priority"),
        ({"priority": 6}, "priority"),
        ({"own_within_s": 0}, "own_within_s"),
        ({"resolve_within_s": 60}, "resolve_within_s"),
        ({"warn_at_percent": 100}, "warn_at_percent"),
        ({"breach_actions": ["notify", "page_the_ceo"]}, "breach_actions[1]"),
        ({"site_id": 424242}, "site_id"),
        ({"category_id": 424242}, "category_id"),
        ({"calendar_id": 424242}, "calendar_id"),
        ({"name": None}, "name"),
    ],
)
async def test_policy_errors_name_the_field(
    sessions: SessionFactory, values: dict[str, Any], field: str
) -> None:
    async with sessions() as s:
        with pytest.raises(InvalidInput) as refused:
            await config.create(s, ADMIN, config.POLICIES, _policy(**values))
        assert refused.value.field == field


async def test_policy_patch_checks_the_result(sessions: SessionFactory) -> None:
    category = await _category(sessions, _name("patch"))
    async with sessions() as s:
        policy = await config.create(s, ADMIN, config.POLICIES, _policy(category_id=category))
    async with sessions() as s:
        with pytest.raises(InvalidInput) as refused:  # longer than resolve_within_s
            await config.update(s, ADMIN, config.POLICIES, policy.id, {"own_within_s": 9 * 3600})
        assert refused.value.field == "own_within_s"
        with pytest.raises(InvalidInput) as refused:
            await config.update(s, ADMIN, config.POLICIES, policy.id, {"priority": None})
        assert refused.value.field == "priority"
    async with sessions() as s:
        changed = await config.update(
            s, ADMIN, config.POLICIES, policy.id, {"breach_actions": ["escalate", "escalate"]}
        )
        assert changed.breach_actions == ["escalate"]
        assert changed.own_within_s == 900
        with pytest.raises(Forbidden):
            await config.update(s, TIER1, config.POLICIES, policy.id, {"priority": 1})


# -- routing rules ---------------------------------------------------------------------


async def test_rules_list_by_position_then_id(sessions: SessionFactory) -> None:
    team = await _row(sessions, Team, name=_name("routing"))
    made = []
    async with sessions() as s:
        for position in (30, 10, 30, 20):
            rule = await config.create(
                s, ADMIN, config.RULES, {"team_id": team, "position": position}
            )
            made.append((position, rule.id))
    async with sessions() as s:
        seen: list[tuple[int, int]] = []
        cursor = None
        while True:
            page = await config.list_rows(s, TIER1, config.RULES, limit=2, cursor=cursor)
            seen += [(r.position, r.id) for r in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    mine = [item for item in seen if item in made]
    assert mine == sorted(made)
    assert seen == sorted(seen)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"team_id": None}, "team_id"),
        ({"team_id": 424242}, "team_id"),
        ({"category_id": 424242}, "category_id"),
        ({"site_id": 424242}, "site_id"),
        ({"position": -1}, "position"),
        ({"keywords": ["vpn", "e-mail"]}, "keywords[1]"),
        ({"keywords": ["vpn", "x" * 51]}, "keywords[1]"),
        ({"keywords": ["vpn", ""]}, "keywords[1]"),
        ({"keywords": [f"w{i}" for i in range(21)]}, "keywords"),
    ],
)
async def test_rule_errors_name_the_field(
    sessions: SessionFactory, values: dict[str, Any], field: str
) -> None:
    team = await _row(sessions, Team, name=_name("rules"))
    async with sessions() as s:
        with pytest.raises(InvalidInput) as refused:
            await config.create(s, ADMIN, config.RULES, {"team_id": team, **values})
        assert refused.value.field == field


# -- webhooks --------------------------------------------------------------------------


async def test_webhook_secret_is_generated_and_never_shown_again(sessions: SessionFactory) -> None:
    async with sessions() as s:
        webhook = await config.create(
            s, ADMIN, config.WEBHOOKS, {"url": "https://hooks.example/desk", "secret": None}
        )
        generated = webhook.secret
        chosen = await config.create(
            s,
            ADMIN,
            config.WEBHOOKS,
            {"url": "http://10.0.0.5:8080/in", "secret": "s" * 16, "events": ["ticket.created"]},
        )
    assert len(generated) >= 32
    assert chosen.secret == "s" * 16 and chosen.events == ["ticket.created"]
    async with sessions() as s:
        await config.update(s, ADMIN, config.WEBHOOKS, webhook.id, {"secret": "rotated" * 4})
        await config.update(s, ADMIN, config.WEBHOOKS, webhook.id, {"active": False})
    async with sessions() as s:
        assert (await s.get_one(Webhook, webhook.id)).secret == "rotated" * 4
        page = await config.list_rows(s, ADMIN, config.WEBHOOKS, limit=1000, cursor=None)
        shown = [config.snapshot(config.WEBHOOKS, w) for w in page.items]
        assert {"url", "events", "active", "secret_set"} == set(shown[0])
        assert all(w["secret_set"] is True for w in shown)
        one = config.snapshot(
            config.WEBHOOKS, await config.get(s, ADMIN, config.WEBHOOKS, webhook.id)
        )
        assert "secret" not in one and one["active"] is False
        trail = list(await s.scalars(select(AuditEvent).where(AuditEvent.object_type == "webhook")))
    async with sessions() as s:
        await config.delete(s, ADMIN, config.WEBHOOKS, webhook.id)
        trail += list(
            await s.scalars(
                select(AuditEvent).where(
                    AuditEvent.object_type == "webhook", AuditEvent.action == "delete"
                )
            )
        )
    text = json.dumps([(e.before, e.after) for e in trail])
    for secret in (generated, "s" * 16, "rotated" * 4):
        assert secret not in text
    assert any(e.after and e.after.get("secret_changed") for e in trail)
    async with sessions() as s:
        with pytest.raises(Forbidden):  # webhooks are the admin's, reads included
            await config.list_rows(s, TIER1, config.WEBHOOKS, limit=10, cursor=None)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"url": "ftp://files.example/in"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "https://hooks.example/a b"}, "url"),
        ({"url": "https://hooks.example:99999/"}, "url"),
        ({"url": "https://hooks.example/" + "x" * 2000}, "url"),
        ({"secret": "short"}, "secret"),
        ({"events": ["ticket.created", "ticket.deleted"]}, "events[1]"),
        ({"active": "yes"}, "active"),
    ],
)
async def test_webhook_errors_name_the_field(
    sessions: SessionFactory, values: dict[str, Any], field: str
) -> None:
    async with sessions() as s:
        before = len(list(await s.scalars(select(Webhook.id))))
        with pytest.raises(InvalidInput) as refused:
            await config.create(
                s, ADMIN, config.WEBHOOKS, {"url": "https://hooks.example/", **values}
            )
        assert refused.value.field == field
    async with sessions() as s:
        assert len(list(await s.scalars(select(Webhook.id)))) == before
