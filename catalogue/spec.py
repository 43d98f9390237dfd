"""What an action is: a name, typed parameters, a risk level, and whether it can dry-run."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import BaseModel


class Risk(enum.StrEnum):
    READ = "read"  # looks, changes nothing
    LOW = "low"  # changes something easily undone or harmless (start a service)
    MEDIUM = "medium"  # interrupts or edits (restart, kill, config change, cleanup)
    HIGH = "high"  # disruptive or security-sensitive (reboot, password reset): approval

    @property
    def rank(self) -> int:
        return list(Risk).index(self)

    def exceeds(self, other: Risk) -> bool:
        return self.rank > other.rank


@dataclass(frozen=True)
class ActionSpec:
    name: str
    risk: Risk
    params: type[BaseModel]
    summary: str
    dry_run: bool = False  # can say what it would change without changing it
    # What it reads or writes on disk, for the agent's allowed_paths policy.
    path_fields: tuple[str, ...] = ()
