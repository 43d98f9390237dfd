"""The value type and the exceptions that every configuration-format editor shares.

A module of its own so that formats (the entry point) and the editors it
dispatches to (lines, structured) can all use them without importing
one another in a cycle.
"""

from __future__ import annotations

Value = str | int | float | bool | None


class ParseError(ValueError):
    """The text does not parse as its format; the message says where."""


class BadKey(ValueError):
    """The key or value cannot be expressed in this file's format or structure."""


class EditFailed(RuntimeError):
    """The edited text did not parse back to the intended data (nothing should be written)."""
