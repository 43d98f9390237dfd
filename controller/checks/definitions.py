"""Creating, reading, changing and deleting health checks, within the actor's role and sites.

A check's params and thresholds are validated with the catalogue's check specs (the agent
validates them again), its schedule with croniter. A USA may only write checks bound to
their sites: a site of theirs, or endpoints of theirs named one by one; they see the checks
of their sites and the checks bound to no site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue import CatalogueError
from catalogue.checks import validate_check
from catalogue.schedule import validate_schedule
from controller.access import audit
from controller.access.actor import Actor
from controller.access.roles import Permission
from controller.errors import InvalidInput, NotFound
from controller.fleet.endpoints import scoped
from controller.fleet.validation import check_tags
from controller.paging import Page, keyset_page
from controller.playbooks.schema import Playbook
from controller.playbooks.service import checked_inputs
from controller.storage.models import Check, Endpoint, Site, Team
from controller.storage.unique import unique

FIELDS = (
    "name",
    "check",
    "params",
    "thresholds",
    "endpoint_ids",
    "site_id",
    "tags",
    "interval_s",
    "cron",
    "playbook",
    "playbook_inputs",
    "max_fixes",
    "fix_window_s",
    "cooldown_s",
    "team_id",
    "enabled",
)
# The loop's limits when the caller gives none (see controller/automation/loop.py).
LOOP_DEFAULTS = {"playbook_inputs": {}, "max_fixes": 3, "fix_window_s": 3600, "cooldown_s": 300}
MAX_ENDPOINT_IDS = 1000
# The library's playbook of this name, if any. None: no library to ask (names and inputs
# kept as given).
PlaybookKnown = Callable[[str], Playbook | None] | None


def snapshot(check: Check) -> dict[str, Any]:
    return {f: getattr(check, f) for f in FIELDS}


async def _team(session: AsyncSession, values: dict[str, Any]) -> None:
    """The team that gets the tickets the loop opens for this check."""
    team_id = values["team_id"]
    if team_id is not None and await session.get(Team, team_id) is None:
        raise InvalidInput("team_id", f"no team {team_id}")


def _visible(actor: Actor, check: Check) -> bool:
    return actor.site_ids is None or check.site_id is None or check.site_id in actor.site_ids


async def get_check(session: AsyncSession, actor: Actor, check_id: int) -> Check:
    actor.require(Permission.CHECKS_READ)
    check = await session.get(Check, check_id)
    if check is None or not _visible(actor, check):
        raise NotFound("check", check_id)
    return check


async def list_checks(
    session: AsyncSession, actor: Actor, *, limit: int, cursor: str | None
) -> Page[Check]:
    actor.require(Permission.CHECKS_READ)
    query = select(Check)
    if actor.site_ids is not None:
        query = query.where(or_(Check.site_id.is_(None), Check.site_id.in_(actor.site_ids)))
    return await keyset_page(session, query, (Check.id,), limit=limit, cursor=cursor)


def _catalogue(values: dict[str, Any]) -> None:
    try:
        params, thresholds = validate_check(values["check"], values["params"], values["thresholds"])
        validate_schedule(values["interval_s"], values["cron"])
    except CatalogueError as exc:
        raise InvalidInput(exc.field, exc.reason) from None
    values["params"] = params.model_dump(mode="json", exclude_none=True)
    values["thresholds"] = thresholds.model_dump(mode="json", exclude_none=True)


async def _target(session: AsyncSession, actor: Actor, values: dict[str, Any]) -> None:
    ids: list[str] = list(dict.fromkeys(values["endpoint_ids"]))
    if len(ids) > MAX_ENDPOINT_IDS:
        raise InvalidInput("endpoint_ids", f"at most {MAX_ENDPOINT_IDS}; use site_id or tags")
    values["endpoint_ids"] = ids
    values["tags"] = check_tags(values["tags"])
    if not ids and values["site_id"] is None and not values["tags"]:
        raise InvalidInput("endpoint_ids", "give endpoint_ids, site_id or tags")
    if ids:
        query = scoped(select(Endpoint.id), actor).where(
            Endpoint.id.in_(ids), Endpoint.revoked_at.is_(None)
        )
        found = set(await session.scalars(query))
        for index, endpoint_id in enumerate(ids):
            if endpoint_id not in found:
                raise InvalidInput(
                    f"endpoint_ids[{index}]", f"no endpoint {endpoint_id} that you can reach"
                )
    site_id = values["site_id"]
    if site_id is not None and (
        await session.get(Site, site_id) is None or not actor.sees_site(site_id)
    ):
        raise InvalidInput("site_id", f"no site with id {site_id} among yours")
    if actor.site_ids is not None and site_id is None and values["tags"]:
        raise InvalidInput("site_id", "tags reach other sites' endpoints; give one of your sites")


def _playbook(values: dict[str, Any], known: PlaybookKnown) -> None:
    """The playbook exists and takes these inputs: refused now, not when a fault needs it."""
    name = values["playbook"]
    if known is None:
        return
    if name is None:
        if values["playbook_inputs"]:
            raise InvalidInput("playbook_inputs", "inputs need a playbook")
        return
    playbook = known(name)
    if playbook is None:
        raise InvalidInput("playbook", f"no playbook named {name[:100]!r} in the library")
    checked_inputs(playbook, values["playbook_inputs"], field="playbook_inputs")


def _require_writable(actor: Actor, check: Check) -> None:
    actor.require(Permission.CHECKS_WRITE)
    if actor.site_ids is None:
        return
    if check.site_id is not None:
        actor.require_site(check.site_id, "check", check.id)
    elif check.tags or not check.endpoint_ids:
        raise NotFound("check", check.id)
    # Endpoint lists are checked against the actor's sites by _target on every change.


async def _endpoints_in_scope(session: AsyncSession, actor: Actor, check: Check) -> bool:
    if actor.site_ids is None or check.site_id is not None:
        return True
    query = scoped(select(Endpoint.id), actor).where(Endpoint.id.in_(check.endpoint_ids))
    return set(await session.scalars(query)) == set(check.endpoint_ids)


async def create_check(
    session: AsyncSession, actor: Actor, values: dict[str, Any], known: PlaybookKnown = None
) -> Check:
    actor.require(Permission.CHECKS_WRITE)
    values = {f: values.get(f) for f in FIELDS}
    values["params"] = values["params"] or {}
    values["thresholds"] = values["thresholds"] or {}
    values["endpoint_ids"] = values["endpoint_ids"] or []
    values["tags"] = values["tags"] or []
    values["enabled"] = True if values["enabled"] is None else values["enabled"]
    for name, default in LOOP_DEFAULTS.items():
        values[name] = default if values[name] is None else values[name]
    await _team(session, values)
    _catalogue(values)
    await _target(session, actor, values)
    _playbook(values, known)
    check = Check(**values)
    session.add(check)
    await unique(session, session.flush, f"a check named {check.name!r} exists")
    audit.record(session, actor, "create", "check", check.id, after=snapshot(check))
    await session.commit()
    return check


async def update_check(
    session: AsyncSession,
    actor: Actor,
    check_id: int,
    changes: dict[str, Any],
    known: PlaybookKnown = None,
) -> tuple[Check, dict[str, Any]]:
    """The check as changed, and its snapshot before (to tell whose check set changed)."""
    check = await get_check(session, actor, check_id)
    _require_writable(actor, check)
    if not await _endpoints_in_scope(session, actor, check):
        raise NotFound("check", check_id)
    before = snapshot(check)
    values = {**before, **{k: v for k, v in changes.items() if k in FIELDS}}
    if "check" in changes and "params" not in changes:
        raise InvalidInput("params", "give the params of the new check kind")
    if "check" in changes and "thresholds" not in changes:
        values["thresholds"] = {}
    if "cron" in changes and changes["cron"] is not None and "interval_s" not in changes:
        values["interval_s"] = None
    if changes.get("interval_s") is not None and "cron" not in changes:
        values["cron"] = None
    _catalogue(values)
    await _target(session, actor, values)
    if "playbook" in changes or "playbook_inputs" in changes:
        _playbook(values, known)
    if "team_id" in changes:
        await _team(session, values)
    for field in FIELDS:
        setattr(check, field, values[field])
    audit.record(session, actor, "update", "check", check.id, before=before, after=snapshot(check))
    await unique(session, session.commit, f"a check named {check.name!r} exists")
    await session.refresh(check)
    return check, before


async def delete_check(session: AsyncSession, actor: Actor, check_id: int) -> dict[str, Any]:
    """Deletes the check with its results and states; returns its last snapshot."""
    check = await get_check(session, actor, check_id)
    _require_writable(actor, check)
    if not await _endpoints_in_scope(session, actor, check):
        raise NotFound("check", check_id)
    before = snapshot(check)
    audit.record(session, actor, "delete", "check", check.id, before=before)
    await session.delete(check)
    await session.commit()
    return before
