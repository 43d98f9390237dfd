"""The ticket queries the API issues, at 1,000,000 tickets on PostgreSQL: plans and timings.

Makes a fresh database (deskside_bench_<pid>) on the PostgreSQL at --dsn, brings the schema up
with controller.storage.migrate.upgrade, and loads --tickets tickets in one server-side
INSERT ... SELECT FROM generate_series (the tickets table's secondary indexes are dropped for
the load and made again from their own definitions, foreign-key triggers are off for it), then
VACUUM (ANALYZE). The spread (see SPREAD): 20 teams of 10 analysts, the first teams busier;
20,000 requesters, 10 sites, 30 categories, ids in creation order over two years; 5% of the
tickets open, half of those in the newest 5% of ids (the fresh backlog) and half spread thinly
over the rest (the long tail of stale tickets); open "new" tickets are unassigned; priorities
from impact x urgency; every ticket has due times, so the old open ones are overdue.

The queries are not written here: each is the statement the API's own code builds
(controller.desk.queues.team_queue / list_tickets -> visibility.visible, _filtered and
controller.paging.keyset_page), caught on its way to the session and compiled twice for
PostgreSQL: with literal values, and with $n parameters as the asyncpg driver sends it. Each
runs under EXPLAIN (ANALYZE, BUFFERS) once cold, then REPEATS times: the literal SQL as it
is, the parameterised one as a prepared statement after PREPARED_WARMUP executions, which is
how the API runs it once warm (PostgreSQL may then use a generic plan, made without the
values). The table shows both median execution times and judges index use on the prepared
plan.

    python bench/desk_queues_pg.py [--tickets 1000000] [--plans] [--keep] [--schema 0007]
                                   [--json out.json]

A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from alembic import command
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from report import render  # noqa: E402

from controller.access.actor import Actor  # noqa: E402
from controller.access.roles import Role  # noqa: E402
from controller.desk import queues  # noqa: E402
from controller.desk.priority import DEFAULT_MATRIX  # noqa: E402
from controller.desk.queues import TicketFilter  # noqa: E402
from controller.paging import _decode  # noqa: E402
from controller.storage.db import create_engine, session_factory  # noqa: E402
from controller.storage.migrate import alembic_config, current_revision, upgrade  # noqa: E402
from controller.storage.models import Category, Site, Team, User, team_members  # noqa: E402

DSN = os.environ.get("DESKSIDE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REPEATS = 5  # warm EXPLAIN ANALYZE runs per query, after one cold run
PREPARED_WARMUP = 5  # executions of a prepared statement before PostgreSQL weighs a generic plan
# The goal is index use. A plan that walks an index and throws most rows away (pk_tickets
# newest first, filtering for the few open tickets of one team) meets it only on paper: its
# cost grows with the table. A plan misses when its scans on tickets discard more than
# READ_SLACK + READ_FACTOR x the rows it returns. An index that selects a team's open
# tickets and then sorts them meets it: that cost grows with the backlog, not the history.
READ_FACTOR, READ_SLACK = 10, 1000


@dataclass(frozen=True)
class Spread:
    teams: int = 20
    analysts_per_team: int = 10
    requesters: int = 20_000  # about 50 tickets each over the two years
    sites: int = 10
    categories: int = 30
    years: float = 2.0
    open_share: float = 0.05  # of all tickets
    fresh_ids: float = 0.05  # the newest ids...
    fresh_open: float = 0.5  # ...of which this share is open: the current backlog
    team_skew: float = 1.5  # team = floor(teams * random() ** skew): team 1 the busiest

    @property
    def tail_open(self) -> float:
        """The open share among the older ids, so that open_share holds overall."""
        return (self.open_share - self.fresh_ids * self.fresh_open) / (1 - self.fresh_ids)

    @property
    def analysts(self) -> int:
        return self.teams * self.analysts_per_team


SPREAD = Spread()
# Hours to resolve by priority 1..5 (own: a quarter of it), and the other columns' choices.
RESOLVE_HOURS = (4, 8, 24, 72, 120)
CHANNELS = ("portal", "portal", "email", "email", "phone", "walk_in", "monitoring", "api")
TYPES = ("incident", "incident", "incident", "service_request", "service_request", "problem")
SUBJECTS = (
    "Printer does not print",
    "Outlook keeps asking for my password",
    "VPN drops every few minutes",
    "New starter needs a laptop",
    "Disk almost full on file server",
    "Cannot open the shared drive",
    "Teams camera not detected",
    "Password reset",
)


def _pg_array(values: tuple[Any, ...]) -> str:
    return "ARRAY[" + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values) + "]"


def tickets_sql(spread: Spread) -> str:
    """One INSERT ... SELECT that makes :n tickets with ids 1..:n, newest last, as of :now."""
    s = spread
    matrix = "ARRAY[" + ", ".join(_pg_array(row) for row in DEFAULT_MATRIX) + "]"
    return f"""
INSERT INTO tickets (
    id, title, description, requester_id, requester_name, requester_email, channel, type,
    category_id, site_id, team_id, assignee_id, state, pending_reason, impact, urgency,
    priority, escalation_level, vendor_reference, resolution, own_due_at, resolve_due_at,
    sla_paused_s, sla_state, owned_at, resolved_at, closed_at, created_at, updated_at)
WITH draws AS (
    SELECT g AS id,
           $2::timestamptz - make_interval(secs => ($1 - g)::float8 * {s.years * 365 * 86400} / $1)
               AS created_at,
           random() AS r_open, random() AS r_state, random() AS r_team, random() AS r_member,
           random() AS r_impact, random() AS r_urgency, random() AS r_site, random() AS r_cat,
           random() AS r_req, random() AS r_chan, random() AS r_type, random() AS r_took,
           random() AS r_breach
    FROM generate_series(1, $1) AS g
), shaped AS (
    SELECT d.*,
           CASE WHEN d.id > $1 * {1 - s.fresh_ids} THEN d.r_open < {s.fresh_open}
                ELSE d.r_open < {s.tail_open} END AS is_open,
           1 + floor({s.teams} * power(d.r_team, {s.team_skew}))::int AS team_id,
           1 + floor(3 * d.r_impact)::int AS impact,
           1 + floor(3 * d.r_urgency)::int AS urgency
    FROM draws d
), stated AS (
    SELECT sh.*,
           CASE WHEN sh.is_open THEN
                    CASE WHEN sh.r_state < 0.30 THEN 'new'
                         WHEN sh.r_state < 0.55 THEN 'assigned'
                         WHEN sh.r_state < 0.85 THEN 'in_progress'
                         ELSE 'pending' END
                WHEN sh.r_state < 0.15 THEN 'resolved' ELSE 'closed' END AS state,
           ({matrix})[sh.impact][sh.urgency] AS priority
    FROM shaped sh
), timed AS (
    SELECT st.*,
           st.created_at + make_interval(
               hours => ({_pg_array(RESOLVE_HOURS)})[st.priority]) AS resolve_due_at,
           st.created_at + make_interval(
               hours => ({_pg_array(RESOLVE_HOURS)})[st.priority]) / 4 AS own_due_at,
           st.created_at + make_interval(secs => 3600 * 96 * st.r_took) AS done_at
    FROM stated st
)
SELECT t.id,
       ({_pg_array(SUBJECTS)})[1 + (t.id % {len(SUBJECTS)})] || ' (' || t.id || ')',
       repeat(md5(t.id::text), 4),
       {s.analysts} + 1 + floor({s.requesters} * t.r_req)::int,
       '', '',
       ({_pg_array(CHANNELS)})[1 + floor({len(CHANNELS)} * t.r_chan)::int],
       ({_pg_array(TYPES)})[1 + floor({len(TYPES)} * t.r_type)::int],
       1 + floor({s.categories} * t.r_cat)::int,
       1 + floor({s.sites} * t.r_site)::int,
       t.team_id,
       CASE WHEN t.state = 'new' THEN NULL
            ELSE (t.team_id - 1) * {s.analysts_per_team} + 1
                 + floor({s.analysts_per_team} * t.r_member)::int END,
       t.state,
       CASE WHEN t.state = 'pending' THEN 'requester' END,
       t.impact, t.urgency, t.priority, 0, '',
       CASE WHEN t.is_open THEN '' ELSE 'Fixed: see the timeline.' END,
       t.own_due_at, t.resolve_due_at, 0,
       CASE WHEN t.is_open THEN
                CASE WHEN t.resolve_due_at < $2 THEN 'breached' ELSE 'running' END
            WHEN t.r_breach < 0.1 THEN 'breached' ELSE 'met' END,
       CASE WHEN t.state = 'new' THEN NULL ELSE t.created_at + (t.done_at - t.created_at) / 8 END,
       CASE WHEN t.is_open THEN NULL ELSE t.done_at END,
       CASE WHEN t.state = 'closed' THEN t.done_at + interval '3 days' END,
       t.created_at,
       CASE WHEN t.is_open THEN t.created_at ELSE t.done_at END
FROM timed t
"""


# -- the database --------------------------------------------------------------------------


def _base(dsn: str) -> str:
    return dsn.rsplit("/", 1)[0]


async def _admin(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _reference_rows(engine: AsyncEngine, s: Spread) -> None:
    analysts = [
        {"id": i, "username": f"analyst{i}", "role": "tier1" if i % 3 else "tier2"}
        for i in range(1, s.analysts + 1)
    ]
    requesters = [
        {"id": i, "username": f"requester{i}", "role": "requester"}
        for i in range(s.analysts + 1, s.analysts + s.requesters + 1)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(User), analysts + requesters)
        await connection.execute(
            insert(Site), [{"id": i, "name": f"Site {i}"} for i in range(1, s.sites + 1)]
        )
        await connection.execute(
            insert(Category),
            [{"id": i, "name": f"c{i}", "path": f"c{i}"} for i in range(1, s.categories + 1)],
        )
        await connection.execute(
            insert(Team),
            [
                {"id": i, "name": f"Team {i}", "assignment": "round_robin"}
                for i in range(1, s.teams + 1)
            ],
        )
        await connection.execute(
            insert(team_members),
            [
                {"team_id": (u - 1) // s.analysts_per_team + 1, "user_id": u}
                for u in range(1, s.analysts + 1)
            ],
        )
        for table in ("users", "sites", "categories", "teams"):
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
            )


async def load(engine: AsyncEngine, dsn: str, count: int, s: Spread, now: dt.datetime) -> float:
    """The reference rows, then count tickets; the seconds the tickets took."""
    await _reference_rows(engine, s)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        definitions = [
            (name, definition)
            for name, definition in await connection.fetch(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'tickets' AND indexname <> 'pk_tickets'"
            )
        ]
        started = time.monotonic()
        async with connection.transaction():
            for name, _ in definitions:
                await connection.execute(f'DROP INDEX "{name}"')
            # Generated rows are consistent by construction: no per-row foreign-key checks.
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute("SELECT setseed(0.42)")
            await connection.execute(tickets_sql(s), count, now)
            for _, definition in definitions:
                await connection.execute(definition)
            await connection.execute(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), max(id)) FROM tickets"
            )
        await connection.execute("VACUUM (ANALYZE) tickets")
        return time.monotonic() - started
    finally:
        await connection.close()


# -- the queries, as the API builds them -----------------------------------------------------


class _Caught(Exception):
    """Raised by the capturing session once it has the statement."""


class CapturingSession:
    """Stands in for AsyncSession: get() and scalar() find anything, scalars() keeps the
    statement."""

    statement: Any = None

    async def get(self, model: Any, key: Any) -> Any:
        return object()

    async def scalar(self, statement: Any) -> Any:
        return 1

    async def scalars(self, statement: Any) -> Any:
        self.statement = statement
        raise _Caught


@dataclass(frozen=True)
class Statement:
    literal: str  # the values written in: what EXPLAIN plans as a one-off (a custom plan)
    prepared: str  # $n parameters, as the asyncpg driver sends it
    values: list[Any]  # for prepared, in order


async def statement_of(call: Callable[[Any], Awaitable[Any]]) -> Statement:
    session = CapturingSession()
    with contextlib.suppress(_Caught):
        await call(session)
    if session.statement is None:
        raise RuntimeError("the call issued no query")
    literal = session.statement.compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    prepared = session.statement.compile(
        dialect=pg_asyncpg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    values = [prepared.params[name] for name in prepared.positiontup or ()]
    return Statement(str(literal), str(prepared), values)


@dataclass(frozen=True)
class Query:
    label: str
    route: str
    call: Callable[[Any], Awaitable[Any]]


def queries(s: Spread, cursors: dict[str, str]) -> list[Query]:
    admin = Actor(name="bench-admin", role=Role.ADMIN, user_id=1)
    busy, small = 1, s.teams  # team 1 has the most tickets (team_skew), the last the fewest
    analyst = Actor(name="analyst", role=Role.TIER1, user_id=s.analysts_per_team + 3)
    requester_id = s.analysts + 7
    requester = Actor(name="requester", role=Role.REQUESTER, user_id=requester_id)
    hour = 3600

    def listing(actor: Actor, f: TicketFilter, cursor: str | None = None) -> Any:
        return lambda session: queues.list_tickets(session, actor, f, cursor=cursor)

    def queue(team: int, **kwargs: Any) -> Any:
        return lambda session: queues.team_queue(session, admin, team, **kwargs)

    return [
        Query("team queue, busiest team", f"GET /teams/{busy}/queue", queue(busy)),
        Query("team queue, smallest team", f"GET /teams/{small}/queue", queue(small)),
        Query(
            "smallest team, stale page (cursor)",
            f"GET /teams/{small}/queue?cursor=...",
            queue(small, cursor=cursors["stale"]),
        ),
        Query(
            "unassigned in a team",
            f"GET /teams/{busy}/queue?unassigned=true",
            queue(busy, unassigned=True),
        ),
        Query(
            "team breaching within 1 h",
            f"GET /teams/{busy}/queue?breaching_within_s=3600",
            queue(busy, breaching_within_s=hour),
        ),
        Query(
            "team queue, page 2 (cursor)",
            f"GET /teams/{busy}/queue?cursor=...",
            queue(busy, cursor=cursors["team"]),
        ),
        Query(
            "mine (assignee, open)",
            "GET /tickets?state=open&mine=true",
            listing(analyst, TicketFilter(state="open", mine=True)),
        ),
        Query(
            "breaching within 1 h, all",
            "GET /tickets?breaching_within_s=3600",
            listing(admin, TicketFilter(breaching_within_s=hour)),
        ),
        Query(
            "all open",
            "GET /tickets?state=open",
            listing(admin, TicketFilter(state="open")),
        ),
        Query(
            "all open, page 2 (cursor)",
            "GET /tickets?state=open&cursor=...",
            listing(admin, TicketFilter(state="open"), cursors["open"]),
        ),
        Query(
            "by requester (staff view)",
            f"GET /tickets?requester_id={requester_id}",
            listing(admin, TicketFilter(requester_id=requester_id)),
        ),
        Query(
            "requester's own (as requester)",
            "GET /tickets (requester token)",
            listing(requester, TicketFilter()),
        ),
        Query("all tickets, newest", "GET /tickets", listing(admin, TicketFilter())),
    ]


async def page_cursors(engine: AsyncEngine, s: Spread, count: int) -> dict[str, str]:
    """Cursors as the API hands them out (the real keyset_page): after the first page of the
    busiest team's queue and of all open tickets, and the first page of the smallest team's
    queue that lies past the fresh backlog, in the stale tail (someone scrolling down)."""
    admin = Actor(name="bench-admin", role=Role.ADMIN, user_id=1)
    sessions = session_factory(engine)
    boundary = count * (1 - s.fresh_ids)
    async with sessions() as session:
        team = await queues.team_queue(session, admin, 1)
        every = await queues.list_tickets(session, admin, TicketFilter(state="open"))
        stale = await queues.team_queue(session, admin, s.teams)
        while stale.next_cursor and _decode(stale.next_cursor, 1)[0] > boundary:
            stale = await queues.team_queue(session, admin, s.teams, cursor=stale.next_cursor)
    if None in (team.next_cursor, every.next_cursor, stale.next_cursor):
        raise RuntimeError("fewer open tickets than the pages walked: nothing to page through")
    assert team.next_cursor and every.next_cursor and stale.next_cursor
    return {"team": team.next_cursor, "open": every.next_cursor, "stale": stale.next_cursor}


# -- plans -----------------------------------------------------------------------------------


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _short(index: str) -> str:
    return index.removeprefix("ix_tickets_").removeprefix("ix_")


def describe(plan: dict[str, Any]) -> dict[str, Any]:
    """What the plan did with the tickets table."""
    top = plan["Plan"]
    nodes = list(_nodes(top))
    on_tickets = [n for n in nodes if n.get("Relation Name") == "tickets"]
    indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    seq = any(n["Node Type"] == "Seq Scan" for n in on_tickets)
    sorts = [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")]
    # Heap rows the scans on tickets looked at: kept, filtered out, or rechecked away.
    read = sum(
        (
            n.get("Actual Rows", 0)
            + n.get("Rows Removed by Filter", 0)
            + n.get("Rows Removed by Index Recheck", 0)
        )
        * n.get("Actual Loops", 1)
        for n in on_tickets
    )
    removed = sum(n.get("Rows Removed by Filter", 0) * n.get("Actual Loops", 1) for n in on_tickets)
    # What went into the sort: the rows of the node under it.
    sorted_rows = sum(n["Plans"][0].get("Actual Rows", 0) for n in sorts if n.get("Plans"))
    returned = int(top.get("Actual Rows", 0))
    if seq:
        verdict = "SEQ SCAN on tickets"
    elif not indexes:
        verdict = "NO INDEX"
    elif sorts:
        verdict = f"{'+'.join(_short(i) for i in indexes)}, sort {int(sorted_rows):,}"
    else:
        verdict = f"{'+'.join(_short(i) for i in indexes)} in order"
    selective = not seq and bool(indexes) and removed <= READ_SLACK + READ_FACTOR * returned
    top_label = top["Node Type"]
    if top_label == "Limit" and top.get("Plans"):
        top_label = f"Limit <- {top['Plans'][0]['Node Type']}"
    return {
        "top": top_label,
        "indexes": indexes,
        "seq_scan": seq,
        "sort": bool(sorts),
        "rows_read": int(read),
        "rows_removed": int(removed),
        "rows_returned": returned,
        "selective": selective,
        "sorted_rows": int(sorted_rows),
        "shared_hit": int(top.get("Shared Hit Blocks", 0)),
        "shared_read": int(top.get("Shared Read Blocks", 0)),
        "verdict": verdict,
    }


async def _explain_runs(connection: asyncpg.Connection, sql: str) -> dict[str, Any]:
    """EXPLAIN ANALYZE once cold, then REPEATS times: the median and the last plan."""
    times, plan = [], None
    for _ in range(1 + REPEATS):
        raw = await connection.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
        times.append(plan["Execution Time"])
    assert plan is not None
    text_plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
    return {
        "cold_ms": times[0],
        "median_ms": statistics.median(times[1:]),
        "planning_ms": plan["Planning Time"],
        **describe(plan),
        "text": "\n".join(r[0] for r in text_plan),
    }


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


async def explain_prepared(connection: asyncpg.Connection, statement: Statement) -> dict[str, Any]:
    """The plan the API runs once warm. asyncpg prepares every statement on the server and
    SQLAlchemy keeps it per pooled connection; from the sixth execution on, PostgreSQL may
    switch to a generic plan, made without the values (plan_cache_mode = auto), whenever
    that plan looks no dearer. Generic plans cannot use a partial index whose WHERE names
    values the query passes as parameters. PREPARE / EXECUTE goes through the same plan
    cache; the warm-up repeats the same values."""
    arguments = ", ".join(_sql_literal(v) for v in statement.values)
    execute = f"EXECUTE bench_q({arguments})" if arguments else "EXECUTE bench_q"
    await connection.execute(f"PREPARE bench_q AS {statement.prepared}")
    try:
        for _ in range(PREPARED_WARMUP):
            await connection.execute(execute)
        found = await _explain_runs(connection, execute)
        generic = await connection.fetchval(
            "SELECT generic_plans FROM pg_prepared_statements WHERE name = 'bench_q'"
        )
    finally:
        await connection.execute("DEALLOCATE bench_q")
    return found | {"generic": bool(generic)}


async def run_queries(dsn: str, engine: AsyncEngine, s: Spread, count: int) -> list[dict[str, Any]]:
    cursors = await page_cursors(engine, s, count)
    results = []
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        for query in queries(s, cursors):
            statement = await statement_of(query.call)
            print(f"  {query.label}...", flush=True)
            results.append(
                {
                    "label": query.label,
                    "route": query.route,
                    "sql": statement.literal,
                    "literal": await _explain_runs(connection, statement.literal),
                    "prepared": await explain_prepared(connection, statement),
                }
            )
    finally:
        await connection.close()
    return results


async def index_sizes(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE i.indrelid = 'tickets'::regclass ORDER BY 1"
        )
        table = await connection.fetchval("SELECT pg_relation_size('tickets')")
    finally:
        await connection.close()
    return {"tickets (heap)": int(table)} | {name: int(size) for name, size in rows}


# -- the report ------------------------------------------------------------------------------


def _plan(found: dict[str, Any]) -> str:
    return found["verdict"] + (" (generic)" if found.get("generic") else "")


def table(results: dict[str, Any]) -> str:
    """One row per query. The goal is judged on the prepared plan: what the API runs."""
    head = ["query", "ms literal/prep.", "goal: index use", "prepared: read/disc./ret.", "plan"]
    rows = [head]
    for q in results["queries"]:
        lit, prep = q["literal"], q["prepared"]
        plan = _plan(prep) if _plan(lit) == _plan(prep) else f"{_plan(lit)} -> {_plan(prep)}"
        rows.append(
            [
                q["label"],
                f"{lit['median_ms']:.2f} / {prep['median_ms']:.2f}",
                "ok" if prep["selective"] else "MISSED",
                f"{prep['rows_read']:,}/{prep['rows_removed']:,}/{prep['rows_returned']:,}",
                plan,
            ]
        )
    return render(rows)


def detail(results: dict[str, Any]) -> str:
    lines = []
    for q in results["queries"]:
        lines.append(f"{q['label']}: {q['route']}")
        for kind in ("literal", "prepared"):
            f = q[kind]
            seq = "SEQ SCAN on tickets" if f["seq_scan"] else "no seq scan"
            generic = " generic plan;" if f.get("generic") else ""
            lines.append(
                f"  {kind:>8}:{generic} top node {f['top']}; "
                f"indexes {', '.join(f['indexes']) or 'NONE'}; {seq}; "
                f"{f['median_ms']:.2f} ms median of {REPEATS} (cold {f['cold_ms']:.2f}, "
                f"planning {f['planning_ms']:.2f}); buffers hit {f['shared_hit']:,} "
                f"read {f['shared_read']:,}; read {f['rows_read']:,} discarded "
                f"{f['rows_removed']:,} returned {f['rows_returned']:,}"
                + (f"; sorted {f['sorted_rows']:,}" if f["sort"] else "")
            )
    return "\n".join(lines)


def warnings(results: dict[str, Any]) -> list[str]:
    found = []
    for q in results["queries"]:
        for kind in ("literal", "prepared"):
            f = q[kind]
            how = f"{q['label']} ({q['route']}), {kind}{' generic' if f.get('generic') else ''}"
            if f["seq_scan"] or not f["indexes"]:
                found.append(f"NO INDEX USE: {how}: scans the tickets table")
            elif not f["selective"]:
                found.append(
                    f"NO SELECTIVE INDEX: {how}: reads {f['rows_read']:,} rows through "
                    f"{', '.join(f['indexes'])}, discards {f['rows_removed']:,}, "
                    f"returns {f['rows_returned']:,}"
                )
    return found


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def schema(engine: AsyncEngine, revision: str) -> None:
    """The controller's own upgrade to head, or (--schema) to an older revision."""
    if revision == "head":
        await upgrade(engine)
        return
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_to, revision)


async def measure(dsn: str, count: int, keep: bool, revision: str) -> dict[str, Any]:
    name = f"deskside_bench_{os.getpid()}"
    url = f"{_base(dsn)}/{name}"
    await _admin(dsn, f'CREATE DATABASE "{name}"')
    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        print(f"database {name}: schema...", flush=True)
        await schema(engine, revision)
        revision = await current_revision(engine)
        now = dt.datetime.now(dt.UTC)
        print(f"loading {count:,} tickets...", flush=True)
        load_s = await load(engine, url, count, SPREAD, now)
        connection = await asyncpg.connect(url, timeout=10)
        try:
            counts = await connection.fetchrow(
                "SELECT count(*) AS total, "
                "count(*) FILTER (WHERE state IN ('new','assigned','in_progress','pending')) "
                "AS open, count(*) FILTER (WHERE team_id = 1) AS team1, "
                "count(*) FILTER (WHERE team_id = 1 AND state IN "
                "('new','assigned','in_progress','pending')) AS team1_open, "
                f"count(*) FILTER (WHERE team_id = {SPREAD.teams} AND state IN "
                "('new','assigned','in_progress','pending')) AS small_open "
                "FROM tickets"
            )
            server = await connection.fetchval("SHOW server_version")
            settings = {
                r["name"]: r["setting"]
                for r in await connection.fetch(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('shared_buffers', 'work_mem', 'random_page_cost', 'effective_cache_size')"
                )
            }
        finally:
            await connection.close()
        print("explaining...", flush=True)
        found = await run_queries(url, engine, SPREAD, count)
        return {
            "database": name,
            "revision": revision,
            "server_version": server,
            "settings": settings,
            "load_s": load_s,
            "counts": dict(counts),
            "index_bytes": await index_sizes(url),
            "queries": found,
        }
    finally:
        await engine.dispose()
        if keep:
            print(f"kept database {name} (--keep): drop it with dropdb {name}")
        else:
            await _admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--dsn", default=DSN, help="an admin connection (env DESKSIDE_BENCH_PG)")
    parser.add_argument("--plans", action="store_true", help="print every plan in full")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--schema", default="head", help="the Alembic revision to measure (e.g. 0007: before)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{psutil.cpu_count()} cores, {os_name}, Python {platform.python_version()}",
        "tickets": args.tickets,
        "spread": vars(SPREAD) | {"tail_open": SPREAD.tail_open},
    }
    try:
        asyncio.run(_admin(args.dsn, "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        print(
            f"PostgreSQL not reachable at {args.dsn} ({exc}): nothing measured; point --dsn "
            "or DESKSIDE_BENCH_PG at a server where this role may CREATE DATABASE",
            file=sys.stderr,
        )
        return 2
    results |= asyncio.run(measure(args.dsn, args.tickets, args.keep, args.schema))
    results["wall_s"] = time.monotonic() - started
    c = results["counts"]
    print(
        f"\n{results['date']}  {results['machine']}  PostgreSQL {results['server_version']}"
        f"  schema {results['revision']}"
    )
    print(
        f"{c['total']:,} tickets ({c['open']:,} open; busiest team {c['team1']:,}, "
        f"{c['team1_open']:,} open; smallest team {c['small_open']:,} open), "
        f"loaded in {results['load_s']:.0f} s; "
        + ", ".join(f"{k} {v}" for k, v in sorted(results["settings"].items()))
    )
    print(table(results))
    print()
    print(detail(results))
    sizes = results["index_bytes"]
    print("\nsizes: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sizes.items()))
    found = warnings(results)
    print(
        f"\ngoal: a plan that uses an index and discards at most {READ_SLACK:,} + "
        f"{READ_FACTOR} x the rows it returns (read/discarded: heap rows its scans on tickets "
        "looked at / threw away)"
    )
    print("\n".join(found) if found else "every query reads its rows through a selective index")
    if args.plans:
        for q in results["queries"]:
            print(f"\n-- {q['label']}: {q['route']}\n{q['sql']}")
            for kind in ("literal", "prepared"):
                print(f"-- {kind}:\n{q[kind]['text']}")
    print(f"\nwall time {results['wall_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the bench database was dropped", file=sys.stderr)
        sys.exit(130)
