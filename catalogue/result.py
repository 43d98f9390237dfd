"""The one result shape every action returns, on every transport."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

MAX_OUTPUT = 64 * 1024  # characters of human-readable output kept per run


class Evidence(BaseModel):
    """The state before and after: what a ticket shows as proof."""

    before: Any = None
    after: Any = None


class ActionError(BaseModel):
    # e.g. invalid_params, policy_denied, not_found, not_supported, timeout, failed
    code: str
    message: str


class ActionResult(BaseModel):
    changed: bool = False
    output: str = Field(default="", max_length=MAX_OUTPUT)
    data: Any = None  # structured findings (a process list, a certificate's dates, ...)
    evidence: Evidence = Field(default_factory=Evidence)
    error: ActionError | None = None
    rollback: str | None = None  # a token config.rollback accepts, when the change can be undone

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failure(cls, code: str, message: str, **extra: Any) -> ActionResult:
        return cls(error=ActionError(code=code, message=message), **extra)


def bounded(text: str, limit: int = MAX_OUTPUT) -> str:
    """Keep the end of long output (the part that usually says what went wrong)."""
    if len(text) <= limit:
        return text
    marker = f"[... {len(text) - limit + 40} characters cut ...]\n"
    return marker + text[-(limit - len(marker)) :]
