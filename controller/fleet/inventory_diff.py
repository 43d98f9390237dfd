"""What each inventory change changed: section by section, field by field.

The history stores each change's new sections whole (inventory.py). Reading what changed
means comparing each with the same section as it was just before, which may have arrived
many changes earlier: so the walk goes back past the page asked for, to the last full
snapshot or at most LOOKBACK changes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.access.actor import Actor
from controller.fleet.inventory import inventory_history
from controller.storage.models import InventoryChange

Kind = Literal["added", "removed", "changed", "unknown"]
MAX_FIELDS = 40  # per section and change: enough to read, not a dump
LOOKBACK = 2000  # older changes read to find a section's earlier copy
_BATCH = 200
# How list items are matched between two copies (a disk by its mount point, a process by
# its pid), so a changed item shows as one field, not as the whole list.
IDENTITY_KEYS = ("mountpoint", "pid", "name", "device", "address", "id")
_ABSENT = object()
SHOWN_CHARS = 200


@dataclass(frozen=True)
class FieldChange:
    path: str
    kind: Kind
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class SectionDiff:
    section: str
    kind: Kind  # added: first reported; unknown: its earlier copy is too far back
    fields: list[FieldChange] = field(default_factory=list)
    more: int = 0  # changed fields beyond MAX_FIELDS


@dataclass(frozen=True)
class InventoryStep:
    id: int
    seq: int
    full: bool
    collected_at: dt.datetime
    received_at: dt.datetime
    sections: list[SectionDiff]


def shown(value: Any) -> str | None:
    """A field's value as short JSON text: a whole package list is not read in a diff."""
    if value is None:
        return None
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _identity(items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        values = [item.get(key) for item in items]
        if None not in values and len(set(map(str, values))) == len(values):
            return key
    return None


def _keyed_changes(
    before: dict[str, Any], after: dict[str, Any], path: Callable[[str], str]
) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            changes.append(FieldChange(path(key), "added", after=after[key]))
        elif key not in after:
            changes.append(FieldChange(path(key), "removed", before=before[key]))
        else:
            changes.extend(field_changes(before[key], after[key], path(key)))
    return changes


def field_changes(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """The leaves that differ between two copies of a section, each named by its path
    (mounts[/].free: the free space of the disk mounted on /)."""
    if isinstance(before, dict) and isinstance(after, dict):
        old = {str(key): value for key, value in before.items()}
        new = {str(key): value for key, value in after.items()}
        return _keyed_changes(old, new, lambda key: f"{path}.{key}" if path else key)
    if isinstance(before, list) and isinstance(after, list):
        identity = _identity(before)
        if identity is not None and identity == _identity(after):
            old = {str(item[identity]): item for item in before}
            new = {str(item[identity]): item for item in after}
            return _keyed_changes(old, new, lambda key: f"{path}[{key}]")
    if before != after:
        return [FieldChange(path or "(section)", "changed", before, after)]
    return []


def section_diff(name: str, before: Any, after: Any) -> SectionDiff | None:
    if before is _ABSENT and after is _ABSENT:
        return None  # removed again, or never there: nothing to tell
    if before is _ABSENT:
        return SectionDiff(name, "added")
    if after is _ABSENT:
        return SectionDiff(name, "removed")
    changes = field_changes(before, after)
    if not changes:
        return None
    return SectionDiff(name, "changed", changes[:MAX_FIELDS], max(len(changes) - MAX_FIELDS, 0))


async def _state_before(
    session: AsyncSession, endpoint_id: str, before_id: int, wanted: set[str]
) -> dict[str, Any]:
    """Each wanted section as it stood before change before_id (_ABSENT: it did not exist);
    sections not found within LOOKBACK changes are left out."""
    state: dict[str, Any] = {}
    read = 0
    while wanted - state.keys() and read < LOOKBACK:
        query = (
            select(InventoryChange)
            .where(InventoryChange.endpoint_id == endpoint_id, InventoryChange.id < before_id)
            .order_by(InventoryChange.id.desc())
            .limit(_BATCH)
        )
        rows = list(await session.scalars(query))
        for change in rows:
            for name in wanted - state.keys():
                if name in change.sections:
                    state[name] = change.sections[name]
                elif name in change.removed or change.full:
                    state[name] = _ABSENT  # a full snapshot holds every section there is
            if change.full:
                return {name: state.get(name, _ABSENT) for name in wanted}
        if len(rows) < _BATCH:
            return {name: state.get(name, _ABSENT) for name in wanted}
        read += len(rows)
        before_id = rows[-1].id
    return state


async def inventory_steps(
    session: AsyncSession,
    actor: Actor,
    endpoint_id: str,
    *,
    limit: int = 20,
    before_id: int | None = None,
) -> list[InventoryStep]:
    """Newest first, like inventory_history (whose checks of scope and limit apply)."""
    page = await inventory_history(session, actor, endpoint_id, limit=limit, before_id=before_id)
    if not page:
        return []
    oldest = page[-1]
    wanted = {name for change in page for name in (*change.sections, *change.removed)}
    state = await _state_before(session, endpoint_id, oldest.id, wanted)
    steps: list[InventoryStep] = []
    for change in reversed(page):
        names = set(change.sections) | set(change.removed)
        if change.full:
            names |= {name for name, value in state.items() if value is not _ABSENT}
        diffs: list[SectionDiff] = []
        for name in sorted(names):
            after = change.sections.get(name, _ABSENT)
            if name not in state:
                diffs.append(SectionDiff(name, "unknown"))
            elif (diff := section_diff(name, state[name], after)) is not None:
                diffs.append(diff)
            state[name] = after
        steps.append(
            InventoryStep(
                id=change.id,
                seq=change.seq,
                full=change.full,
                collected_at=change.collected_at,
                received_at=change.received_at,
                sections=diffs,
            )
        )
    return steps[::-1]
