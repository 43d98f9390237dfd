"""Check results stored exactly once and in groups (controller/fleet/grouped.py)."""

from __future__ import annotations

from controller.checks.results import Change, Measured, apply_results
from controller.fleet.grouped import GroupWriter
from controller.storage.db import SessionFactory


class CheckResults(GroupWriter[Measured, Change | None]):
    """store() answers the Change once stored (None: the status did not move, a resend, a
    deleted check)."""

    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__(sessions, apply_results)
