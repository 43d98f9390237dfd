"""The desk's configuration: business calendars, SLA policies, routing rules and webhooks
(the category tree, whose paths need more care, is categories.py).

Each kind of object is described once (Kind: its fields and how each is checked, the rows
it names, its whole-object rules) and served by the same five operations: list_rows, get,
create, update, delete. Reading calendars, policies and rules takes tickets:read;
webhooks, and every change, take desk:config. Bad input raises InvalidInput naming the
field (``hours.tue[1]``, ``breach_actions[0]``). Every write is recorded in the audit trail
in the transaction of the change; webhook secrets never reach the audit trail, nor any read.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.desk.calendar import BusinessHours
from controller.desk.categories import serialize_writes
from controller.desk.notify import EVENTS
from controller.errors import Conflict, InvalidInput, NotFound
from controller.paging import Page, keyset_page
from controller.storage.models import (
    BusinessCalendar,
    Category,
    RoutingRule,
    Site,
    SlaPolicy,
    Team,
    Webhook,
)
from controller.storage.unique import unique

M = TypeVar("M", BusinessCalendar, SlaPolicy, RoutingRule, Webhook)
Check = Callable[[Any, str], Any]  # (value, field) -> the value to store, or InvalidInput

BREACH_ACTIONS = ("notify", "escalate", "raise_priority")
MAX_HOLIDAYS = 1000
MAX_KEYWORDS, MAX_KEYWORD = 20, 50
MAX_POSITION = 1_000_000
MAX_SECONDS = 10 * 366 * 86400  # ten years: a target beyond it means nothing
MAX_URL = 2000
MIN_SECRET, MAX_SECRET = 16, 200
_WORD = re.compile(r"\w+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLOCK = re.compile(r"\d{2}:\d{2}")


# -- field checks ----------------------------------------------------------------------


def _text(limit: int) -> Check:
    def check(value: Any, field: str) -> str:
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
            raise InvalidInput(field, f"1 to {limit} characters")
        return value.strip()

    return check


def _whole(low: int, high: int) -> Check:
    def check(value: Any, field: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InvalidInput(field, f"a whole number from {low} to {high}")
        return value

    return check


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, "true or false")
    return value


def _list(value: Any, field: str, limit: int) -> list[Any]:
    if not isinstance(value, list | tuple) or len(value) > limit:
        raise InvalidInput(field, f"a list of at most {limit} items")
    return list(value)


def _subset(options: tuple[str, ...]) -> Check:
    """Some of options, each once, in the order given."""

    def check(value: Any, field: str) -> list[str]:
        chosen = _list(value, field, len(options))
        for index, item in enumerate(chosen):
            if item not in options:
                raise InvalidInput(f"{field}[{index}]", f"one of {', '.join(options)}")
        return list(dict.fromkeys(chosen))

    return check


def _timezone(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise InvalidInput(field, "a time zone name such as Europe/Paris")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(field, f"unknown time zone {value!r} (e.g. Europe/Paris)") from None
    return value


def _hours(value: Any, field: str) -> Any:
    """Names the span that overlaps an earlier one; BusinessHours.parse checks the rest."""
    for day, spans in value.items() if isinstance(value, dict) else ():
        seen: list[tuple[str, str]] = []
        for index, span in enumerate(spans if isinstance(spans, list) else ()):
            if not (isinstance(span, list) and len(span) == 2):
                continue
            start, end = span
            if not all(isinstance(t, str) and _CLOCK.fullmatch(t) for t in span) or end <= start:
                continue  # "HH:MM" strings compare as times; parse names the malformed
            for other, (s, e) in enumerate(seen):
                if start < e and s < end:
                    raise InvalidInput(
                        f"{field}.{day}[{index}]", f"overlaps {field}.{day}[{other}]"
                    )
            seen.append((start, end))
    return value


def _holidays(value: Any, field: str) -> list[str]:
    days = _list(value, field, MAX_HOLIDAYS)
    for index, day in enumerate(days):
        try:
            if not isinstance(day, str) or not _DATE.fullmatch(day):
                raise ValueError
            dt.date.fromisoformat(day)
        except ValueError:
            raise InvalidInput(f"{field}[{index}]", f'{day!r} is not a date "YYYY-MM-DD"') from None
    return sorted(set(days))


def _keywords(value: Any, field: str) -> list[str]:
    words = []
    for index, word in enumerate(_list(value, field, MAX_KEYWORDS)):
        where = f"{field}[{index}]"
        word = _text(MAX_KEYWORD)(word, where)
        if not _WORD.fullmatch(word):
            # Rules match whole words of a ticket's title and description: "e-mail" never would.
            raise InvalidInput(where, f"{word!r} is not one word (letters, digits, _)")
        words.append(word)
    return words


def _url(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_URL:
        raise InvalidInput(field, f"an http or https URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # a port that is not a number is a ValueError
    except ValueError as exc:
        raise InvalidInput(field, f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(field, "only http and https URLs")
    if not parts.hostname or port == 0 or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidInput(field, "a URL with a host and no spaces: https://hooks.example/desk")
    return value


def _secret(value: Any, field: str) -> str:
    if not isinstance(value, str) or not MIN_SECRET <= len(value) <= MAX_SECRET:
        raise InvalidInput(field, f"{MIN_SECRET} to {MAX_SECRET} characters")
    return value


# -- whole-object rules ----------------------------------------------------------------


async def _calendar_rules(
    session: AsyncSession, calendar: BusinessCalendar, merged: dict[str, Any], changed: set[str]
) -> None:
    # The SLA clock's own reading of a calendar: weekdays, "HH:MM" spans that end after
    # they start and do not overlap, dates, and some open hours in the week.
    BusinessHours.parse(merged["timezone"], merged["hours"], merged["holidays"])


async def _calendar_in_use(session: AsyncSession, calendar: BusinessCalendar) -> str | None:
    query = select(SlaPolicy.name).where(SlaPolicy.calendar_id == calendar.id)
    users = list(await session.scalars(query))
    # Deleting would quietly turn those policies round-the-clock.
    return f"calendar {calendar.name!r} is used by SLA policies {users}" if users else None


async def _policy_rules(
    session: AsyncSession, policy: SlaPolicy, merged: dict[str, Any], changed: set[str]
) -> None:
    if merged["resolve_within_s"] < merged["own_within_s"]:
        name = "own_within_s" if "resolve_within_s" not in changed else "resolve_within_s"
        raise InvalidInput(name, "resolve_within_s must not be shorter than own_within_s")
    scope = [SlaPolicy.priority == merged["priority"]]
    for column in (SlaPolicy.site_id, SlaPolicy.category_id):
        value = merged[column.key]
        scope.append(column.is_(None) if value is None else column == value)
    if policy.id is not None:
        scope.append(SlaPolicy.id != policy.id)
    twin = await session.scalar(select(SlaPolicy).where(*scope).limit(1))
    if twin is not None:
        raise Conflict(
            f"SLA policy {twin.name!r} (id {twin.id}) already covers priority "
            f"{merged['priority']}, site {merged['site_id'] or 'any'}, "
            f"category {merged['category_id'] or 'any'}"
        )


# -- the kinds -------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind(Generic[M]):
    model: type[M]
    name: str  # in the audit trail and in "not found"
    read: Permission
    checks: dict[str, Check]  # every writable field but references
    refs: dict[str, type[Any]] = field(default_factory=dict)  # field -> the model it names
    required: tuple[str, ...] = ()
    defaults: Callable[[], dict[str, Any]] = dict
    order: tuple[str, ...] = ("id",)
    hidden: str | None = None  # a field (a secret) never shown, never audited
    # (session, row, its fields once changed, the names of the changed ones)
    rules: Callable[[AsyncSession, M, dict[str, Any], set[str]], Awaitable[None]] | None = None
    in_use: Callable[[AsyncSession, M], Awaitable[str | None]] | None = None
    # Tables locked while writing, so rules that read other rows hold.
    locks: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in (*self.checks, *self.refs) if f != self.hidden)


CALENDARS = Kind(
    BusinessCalendar,
    "calendar",
    Permission.TICKETS_READ,
    {"name": _text(100), "timezone": _timezone, "hours": _hours, "holidays": _holidays},
    required=("name", "hours"),
    defaults=lambda: {"timezone": "UTC", "holidays": []},
    rules=_calendar_rules,
    in_use=_calendar_in_use,
    locks=(SlaPolicy.__tablename__,),
)
POLICIES = Kind(
    SlaPolicy,
    "sla_policy",
    Permission.TICKETS_READ,
    {
        "name": _text(100),
        "priority": _whole(1, 5),
        "own_within_s": _whole(1, MAX_SECONDS),
        "resolve_within_s": _whole(1, MAX_SECONDS),
        "use_site_timezone": _flag,
        "warn_at_percent": _whole(1, 99),
        "breach_actions": _subset(BREACH_ACTIONS),
    },
    refs={"site_id": Site, "category_id": Category, "calendar_id": BusinessCalendar},
    required=("name", "priority", "own_within_s", "resolve_within_s"),
    defaults=lambda: {"use_site_timezone": True, "warn_at_percent": 75, "breach_actions": []},
    rules=_policy_rules,
    locks=(SlaPolicy.__tablename__,),
)
RULES = Kind(
    RoutingRule,
    "routing_rule",
    Permission.TICKETS_READ,
    {"position": _whole(0, MAX_POSITION), "keywords": _keywords},
    refs={"team_id": Team, "category_id": Category, "site_id": Site},
    required=("team_id",),
    defaults=lambda: {"position": 100, "keywords": []},
    order=("position", "id"),  # the order they are tried in
)
WEBHOOKS = Kind(
    Webhook,
    "webhook",
    Permission.DESK_CONFIG,
    {"url": _url, "secret": _secret, "events": _subset(EVENTS), "active": _flag},
    required=("url",),
    defaults=lambda: {"events": [], "active": True, "secret": secrets.token_urlsafe(32)},
    hidden="secret",
)


def snapshot(kind: Kind[M], row: M) -> dict[str, Any]:
    """What reads and the audit trail show of row: a secret only as "<field>_set"."""
    shown = {f: copy.deepcopy(getattr(row, f)) for f in kind.fields}
    if kind.hidden is not None:
        shown[f"{kind.hidden}_set"] = bool(getattr(row, kind.hidden))
    return shown


# -- the operations --------------------------------------------------------------------


async def list_rows(
    session: AsyncSession, actor: Actor, kind: Kind[M], *, limit: int, cursor: str | None
) -> Page[M]:
    actor.require(kind.read)
    keys = tuple(getattr(kind.model, k) for k in kind.order)
    return await keyset_page(session, select(kind.model), keys, limit=limit, cursor=cursor)


async def get(session: AsyncSession, actor: Actor, kind: Kind[M], key: int) -> M:
    actor.require(kind.read)
    row = await session.get(kind.model, key)
    if row is None:
        raise NotFound(kind.name.replace("_", " "), key)
    return row


async def _lock(session: AsyncSession, kind: Kind[M]) -> None:
    for table in kind.locks:
        await serialize_writes(session, table)


async def _check(session: AsyncSession, kind: Kind[M], values: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if value is None and name in kind.required:
            raise InvalidInput(name, "required")
        if name in kind.checks:
            checked[name] = kind.checks[name](value, name)
        elif name in kind.refs and value is not None:
            model = kind.refs[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(name, "an id")
            if await session.get(model, value) is None:
                what = re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower()
                raise InvalidInput(name, f"no {what} {value}")
            checked[name] = value
        elif name in kind.refs:
            checked[name] = None
    return checked


async def _save(
    session: AsyncSession, actor: Actor, kind: Kind[M], row: M, values: dict[str, Any]
) -> M:
    checked = await _check(session, kind, values)
    merged = {**{f: getattr(row, f) for f in (*kind.checks, *kind.refs)}, **checked}
    if kind.rules is not None:
        await kind.rules(session, row, merged, set(checked))
    before = None if row.id is None else snapshot(kind, row)
    for name, value in checked.items():
        setattr(row, name, value)
    after = snapshot(kind, row)
    if before is not None and kind.hidden in checked:
        after[f"{kind.hidden}_changed"] = True
    label = kind.name.replace("_", " ")
    clash = (
        f"a {label} named {merged['name']!r} exists"
        if "name" in kind.checks
        else f"a row this {label} names was deleted meanwhile"
    )
    if before is None:
        session.add(row)
        await unique(session, session.flush, clash)
    action = "create" if before is None else "update"
    audit.record(session, actor, action, kind.name, row.id, before=before, after=after)
    await unique(session, session.commit, clash)
    return row


async def create(session: AsyncSession, actor: Actor, kind: Kind[M], values: dict[str, Any]) -> M:
    """Fields left out or null take their defaults (a webhook's secret is generated)."""
    actor.require(Permission.DESK_CONFIG)
    values = {**kind.defaults(), **{k: v for k, v in values.items() if v is not None}}
    for name in kind.required:
        if values.get(name) is None:
            raise InvalidInput(name, "required")
    await _lock(session, kind)
    return await _save(session, actor, kind, kind.model(), values)


async def update(
    session: AsyncSession, actor: Actor, kind: Kind[M], key: int, changes: dict[str, Any]
) -> M:
    actor.require(Permission.DESK_CONFIG)
    await _lock(session, kind)
    return await _save(session, actor, kind, await get(session, actor, kind, key), changes)


async def delete(session: AsyncSession, actor: Actor, kind: Kind[M], key: int) -> None:
    actor.require(Permission.DESK_CONFIG)
    await _lock(session, kind)
    row = await get(session, actor, kind, key)
    reason = None if kind.in_use is None else await kind.in_use(session, row)
    if reason is not None:
        raise Conflict(f"{reason}; change them first")
    audit.record(session, actor, "delete", kind.name, row.id, before=snapshot(kind, row))
    await session.delete(row)
    await session.commit()
