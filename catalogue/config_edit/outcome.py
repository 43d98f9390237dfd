"""What config.set and config.rollback decide and report, whoever reads and writes the file.

The agent edits a local file; the ssh and winrm transports read a file's bytes remotely,
plan the change here, and write it back their own way. The plan, the diff, the evidence and
the backup record are made here once, so a change looks the same in a ticket however the
endpoint was reached. No file I/O.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from catalogue import ActionResult, Evidence
from catalogue.config_edit import formats
from catalogue.result import bounded

MAX_SIZE = 10 * 2**20  # configuration files are small; anything bigger is not one
MAX_EVIDENCE = 2000  # characters of a value shown in evidence
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
# Every backup record has these; a transport adds what it restores besides the bytes.
RECORD_FIELDS: dict[str, type] = {"path": str, "sha256_before": str, "sha256_after": str}
OWNER_FIELDS: dict[str, type] = {"mode": int, "uid": int, "gid": int}  # posix files


class Refused(Exception):
    """A failure with its result code, raised from deep inside a step."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def printable(value: Any) -> Any:
    """Bytes that were not UTF-8 (kept as surrogates for the edit) shown as U+FFFD."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        # Evidence is for a ticket: a long multi-line INI value need not travel whole.
        return value if len(value) <= MAX_EVIDENCE else value[:MAX_EVIDENCE] + "…"
    return value


def diff(before: bytes, after: bytes, path: str) -> str:
    old = before.decode("utf-8", "replace").splitlines(keepends=True)
    new = after.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, fromfile=path, tofile=path)
    # As diff(1) shows it, so a missing final newline is visible rather than merged.
    return bounded(
        "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines
        )
    )


def described(params: Any) -> dict[str, Any]:
    """config.set's data, sent with its failures too (plan fills in an inferred format)."""
    return {"path": params.path, "format": params.format, "key": params.key}


@dataclass(frozen=True)
class Change:
    """config.set's plan: the file's bytes before and after, and what to report."""

    data: dict[str, Any]
    original: bytes
    updated: bytes
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def needed(self) -> bool:
        return self.updated != self.original

    def result(self, token: str | None = None) -> ActionResult:
        """The answer: nothing to do, the diff alone (no token: a dry run), or done."""
        shown, key = self.data["path"], self.data["key"]
        if not self.needed:
            return ActionResult(
                output=f"{key} is already {self.after['value']!r} in {shown}",
                data=self.data,
                evidence=Evidence(before=self.before, after=self.before),
            )
        return ActionResult(
            changed=token is not None,
            output=diff(self.original, self.updated, shown),
            data=self.data,
            evidence=Evidence(before=self.before, after=self.after),
            rollback=token,
        )


def plan(params: Any, path: str, original: bytes, data: dict[str, Any]) -> Change:
    """Set params.key in original, the bytes of path (the file itself, a link resolved)."""
    # surrogateescape: bytes that are not UTF-8 (a Latin-1 comment) come back unchanged.
    text = original.decode("utf-8", "surrogateescape")
    fmt = params.format or formats.infer(path, text)
    data["format"] = fmt
    try:
        change = formats.edit(fmt, text, params.key, params.value)
    except formats.ParseError as exc:
        raise Refused("parse_error", f"{params.path} is not valid {fmt}: {exc}") from None
    except formats.BadKey as exc:
        raise Refused("invalid_params", f"{fmt} file {params.path}: {exc}") from None
    except formats.EditFailed as exc:
        raise Refused("failed", str(exc)) from None
    updated = change.text.encode("utf-8", "surrogateescape")
    key = params.key
    before = {"key": key, "value": printable(change.old), "sha256": sha256(original)}
    after = {"key": key, "value": printable(change.new), "sha256": sha256(updated)}
    return Change(data, original, updated, before, after)


def new_token() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def record(change: Change, path: str, **kept: Any) -> dict[str, Any]:
    """The backup's sidecar: hashes, and what the transport restores besides the bytes."""
    return {
        "path": path,
        "sha256_before": change.before["sha256"],
        "sha256_after": change.after["sha256"],
        **kept,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def check_token(token: str) -> None:
    if not _TOKEN.fullmatch(token):  # the catalogue checks too; this keeps paths inside
        raise Refused("invalid_params", f"{token!r} is not a rollback token")


def loaded(token: str, raw: bytes, original: bytes, fields: dict[str, type]) -> dict[str, Any]:
    """The sidecar raw of backup token, checked against the backup's bytes."""
    try:
        found = json.loads(raw)
    except ValueError as exc:
        raise Refused("failed", f"backup {token} is unreadable: {exc}") from None
    wanted = RECORD_FIELDS | fields
    if not isinstance(found, dict) or not all(
        isinstance(found.get(k), t) for k, t in wanted.items()
    ):
        raise Refused("failed", f"backup {token} has an incomplete record")
    if sha256(original) != found["sha256_before"]:
        raise Refused("failed", f"backup {token} does not match its recorded sha256")
    return found


@dataclass(frozen=True)
class Restore:
    """config.rollback's plan: the file now, and the backup to put back."""

    data: dict[str, Any]
    current: bytes
    original: bytes
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def needed(self) -> bool:
        return bool(self.before["sha256"] != self.after["sha256"])

    def result(self, done: bool) -> ActionResult:
        """The answer: nothing to do, the diff alone (a dry run), or restored."""
        path, token = self.data["path"], self.data["rollback"]
        if not self.needed:
            return ActionResult(
                output=f"{path} already has its content from before {token}",
                data=self.data,
                evidence=Evidence(before=self.before, after=self.before),
            )
        return ActionResult(
            changed=done,
            output=diff(self.current, self.original, path),
            data=self.data,
            evidence=Evidence(before=self.before, after=self.after),
        )


def plan_rollback(
    token: str, saved: dict[str, Any], original: bytes, current: bytes | None
) -> Restore:
    """Restore original over current (None: the file is gone), only over config.set's edit."""
    path = saved["path"]
    if current is None:
        raise Refused("conflict", f"{path} was removed since {token}; not restored")
    now = sha256(current)
    data = {"path": path, "rollback": token}
    before = {"path": path, "sha256": now}
    if now not in (saved["sha256_before"], saved["sha256_after"]):
        raise Refused(
            "conflict",
            f"{path} has changed since {token} (sha256 {now[:12]}, expected "
            f"{saved['sha256_after'][:12]}); not overwritten",
        )
    after = {"path": path, "sha256": saved["sha256_before"]}
    return Restore(data, current, original, before, after)
