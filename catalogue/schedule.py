"""When a check runs: every interval_s seconds, or on a cron expression (croniter).

croniter is imported only when a cron expression is used: an agent with interval checks
only (or none) never loads it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from catalogue.registry import CatalogueError

MIN_INTERVAL_S = 1
MAX_INTERVAL_S = 7 * 86400
MAX_CRON = 100


def _croniter() -> Any:
    from croniter import croniter  # type: ignore[import-untyped]

    return croniter


def validate_schedule(interval_s: int | None, cron: str | None) -> None:
    """Exactly one of interval_s and cron, each valid; CatalogueError names the field."""
    if (interval_s is None) == (cron is None):
        raise CatalogueError("interval_s", "give either interval_s or cron")
    if interval_s is not None:
        if isinstance(interval_s, bool) or not isinstance(interval_s, int):
            raise CatalogueError("interval_s", "must be a whole number of seconds")
        if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
            raise CatalogueError(
                "interval_s", f"must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S}"
            )
        return
    assert cron is not None
    if len(cron) > MAX_CRON or "\x00" in cron:
        raise CatalogueError("cron", f"must be at most {MAX_CRON} characters")
    if len(cron.split()) != 5 or not _croniter().is_valid(cron):
        raise CatalogueError("cron", "not a valid cron expression (5 fields: m h dom mon dow)")


def next_cron(cron: str, after: float) -> float:
    """The first moment (epoch seconds, UTC) after `after` that the expression names."""
    start = dt.datetime.fromtimestamp(after, dt.UTC)
    following: dt.datetime = _croniter()(cron, start).get_next(dt.datetime)
    return following.timestamp()
