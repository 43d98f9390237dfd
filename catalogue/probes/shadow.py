"""Local Linux accounts: ``passwd -S NAME`` and ``faillock --user NAME`` (shadow-utils, PAM)."""

from __future__ import annotations

from typing import Any

# passwd -S: NAME STATUS DATE MIN MAX WARN INACTIVE; STATUS is P (usable), L (locked), NP.
_STATUS = {"P": "usable", "L": "locked", "NP": "no password"}
# What keeps an account out, in clearing order, as user.unlock names it.
LOCK_NAMES = {"password": "locked password", "faillock": "failed-login tally"}


def parse_passwd_status(username: str, text: str) -> dict[str, Any] | None:
    """{username, password_status, last_change}; None when the line is not username's."""
    fields = text.split()
    if len(fields) < 3 or fields[0] != username:
        return None
    return {
        "username": username,
        "password_status": _STATUS.get(fields[1], fields[1]),
        "last_change": fields[2],
    }


def count_failures(text: str) -> int:
    """Failed logins faillock recorded: one line per failure after the header lines."""
    return sum(1 for line in text.splitlines() if line[:4].isdigit())


def locks(found: dict[str, Any]) -> list[str]:
    """The LOCK_NAMES keys that keep the account in `found` out."""
    held = ["password"] if found["password_status"] == _STATUS["L"] else []
    return held + (["faillock"] if found.get("failed_logins") else [])
