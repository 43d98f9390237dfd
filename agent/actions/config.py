"""config.set and config.rollback: change one key in a configuration file, and undo it.

config.set keeps the original bytes in the state directory's backups/ (with a JSON
sidecar of hashes, mode and owner) before replacing the file atomically; the token it
returns names that backup. config.rollback restores it byte for byte, but only over the
content config.set wrote: if someone changed the file since, it refuses.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import secrets
import stat
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.actions import config_formats as formats
from agent.actions.context import ActionContext
from agent.settings import AgentSettings
from catalogue import ActionResult, Evidence
from catalogue.result import bounded

MAX_SIZE = 10 * 2**20  # configuration files are small; anything bigger is not one
MAX_EVIDENCE = 2000  # characters of a value shown in evidence
BACKUPS = "backups"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
# Runs are threads: one edit at a time, so two runs on one file cannot interleave.
_LOCK = threading.Lock()


class _Refused(Exception):
    """A failure with its result code, raised from deep inside a step."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _backups_dir() -> Path:
    state = os.environ.get("DESKSIDE_AGENT_DIR")
    return (Path(state) if state else AgentSettings.from_env().state_dir) / BACKUPS


def _printable(value: Any) -> Any:
    """Bytes that were not UTF-8 (kept as surrogates for the edit) shown as U+FFFD."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        # Evidence is for a ticket: a long multi-line INI value need not travel whole.
        return value if len(value) <= MAX_EVIDENCE else value[:MAX_EVIDENCE] + "…"
    return value


def _diff(before: bytes, after: bytes, path: str) -> str:
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


def _read(path: str) -> tuple[bytes, os.stat_result]:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("not_found", f"{path} is not a regular file")
        if info.st_size > MAX_SIZE:
            raise _Refused("too_large", f"{path} is {info.st_size} bytes; the limit is {MAX_SIZE}")
        with open(path, "rb") as f:
            content = f.read(MAX_SIZE + 1)
    except FileNotFoundError:
        raise _Refused("not_found", f"{path} does not exist") from None
    except PermissionError as exc:
        raise _Refused("permission_denied", f"cannot read {path}: {exc.strerror}") from None
    if len(content) > MAX_SIZE:  # it grew between stat and read
        raise _Refused("too_large", f"{path} is over {MAX_SIZE} bytes")
    return content, info


def _copy_xattrs(source: str, fd: int) -> None:
    """ACLs and SELinux labels live in extended attributes; a new inode would lose them."""
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(source)
    except OSError:
        return
    for name in names:
        # e.g. security.* without the privilege: the file gets the directory's default
        with contextlib.suppress(OSError):
            os.setxattr(fd, name, os.getxattr(source, name))


def _replace(path: str, content: bytes, mode: int, uid: int, gid: int, expected: str) -> None:
    """Write content over path atomically, with this mode and owner.

    expected is the sha256 path must still have: checked just before the rename, so an edit
    made by someone else while we worked is not overwritten.
    """
    directory, name = os.path.split(path)
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".deskside", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            _copy_xattrs(path, f.fileno())
            os.chmod(temp, stat.S_IMODE(mode))  # after the ACL, which would change the mode
            made = os.fstat(f.fileno())
            if hasattr(os, "fchown") and (made.st_uid, made.st_gid) != (uid, gid):
                try:
                    os.fchown(f.fileno(), uid, gid)
                except PermissionError:
                    raise _Refused(
                        "permission_denied", f"cannot give the new {path} its owner {uid}:{gid}"
                    ) from None
            os.fsync(f.fileno())
        with open(path, "rb") as current:
            if _sha256(current.read(MAX_SIZE + 1)) != expected:
                raise _Refused("conflict", f"{path} changed while it was being edited")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_new(path: Path, content: bytes) -> None:
    """Create path (never overwrite), readable by the agent only: backups may hold secrets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())


def _save_backup(path: str, before: bytes, after: bytes, info: os.stat_result) -> str:
    backups = _backups_dir()
    backups.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    record = {
        "path": path,
        "sha256_before": _sha256(before),
        "sha256_after": _sha256(after),
        "mode": stat.S_IMODE(info.st_mode),
        "uid": info.st_uid,
        "gid": info.st_gid,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        _write_new(backups / f"{token}.bak", before)
        # The sidecar last: a backup without one is incomplete and rollback will not use it.
        _write_new(backups / f"{token}.json", json.dumps(record, indent=2).encode() + b"\n")
    except FileExistsError:  # another backup's token (32 random bits): not ours to remove
        raise
    except BaseException:
        _drop_backup(token)
        raise
    return token


def _drop_backup(token: str) -> None:
    for suffix in (".json", ".bak"):
        (_backups_dir() / f"{token}{suffix}").unlink(missing_ok=True)


def config_set(params: Any, ctx: ActionContext) -> ActionResult:
    # Edit the file a symbolic link points to: replacing the link would cut it.
    path = os.path.realpath(params.path)
    data = {"path": params.path, "format": params.format, "key": params.key}
    try:
        with _LOCK:
            return _set(path, params, data, ctx)
    except _Refused as exc:
        return ActionResult.failure(exc.code, str(exc), data=data)
    except PermissionError as exc:
        return ActionResult.failure("permission_denied", f"{exc.filename}: {exc.strerror}")
    except OSError as exc:
        return ActionResult.failure("failed", f"{exc.filename or path}: {exc.strerror or exc}")


def _set(path: str, params: Any, data: dict[str, Any], ctx: ActionContext) -> ActionResult:
    original, info = _read(path)
    # surrogateescape: bytes that are not UTF-8 (a Latin-1 comment) come back unchanged.
    text = original.decode("utf-8", "surrogateescape")
    fmt = params.format or formats.infer(path, text)
    data["format"] = fmt
    try:
        change = formats.edit(fmt, text, params.key, params.value)
    except formats.ParseError as exc:
        raise _Refused("parse_error", f"{params.path} is not valid {fmt}: {exc}") from None
    except formats.BadKey as exc:
        raise _Refused("invalid_params", f"{fmt} file {params.path}: {exc}") from None
    except formats.EditFailed as exc:
        raise _Refused("failed", str(exc)) from None
    updated = change.text.encode("utf-8", "surrogateescape")
    key = params.key
    before = {"key": key, "value": _printable(change.old), "sha256": _sha256(original)}
    after = {"key": key, "value": _printable(change.new), "sha256": _sha256(updated)}
    if updated == original:
        return ActionResult(
            output=f"{key} is already {_printable(change.new)!r} in {params.path}",
            data=data,
            evidence=Evidence(before=before, after=before),
        )
    diff = _diff(original, updated, params.path)
    if ctx.dry_run:
        return ActionResult(output=diff, data=data, evidence=Evidence(before=before, after=after))
    token = _save_backup(path, original, updated, info)
    try:
        _replace(path, updated, info.st_mode, info.st_uid, info.st_gid, before["sha256"])
    except BaseException:
        _drop_backup(token)  # the file is as it was: nothing to roll back
        raise
    return ActionResult(
        changed=True,
        output=diff,
        data=data,
        evidence=Evidence(before=before, after=after),
        rollback=token,
    )


def _load_backup(token: str) -> tuple[dict[str, Any], bytes]:
    if not _TOKEN.fullmatch(token):  # the catalogue checks too; this keeps paths inside
        raise _Refused("invalid_params", f"{token!r} is not a rollback token")
    backups = _backups_dir()
    try:
        record = json.loads((backups / f"{token}.json").read_bytes())
        original = (backups / f"{token}.bak").read_bytes()
    except FileNotFoundError:
        raise _Refused("not_found", f"no backup {token} on this machine") from None
    except ValueError as exc:
        raise _Refused("failed", f"backup {token} is unreadable: {exc}") from None
    fields: dict[str, type] = {
        "path": str,
        "sha256_before": str,
        "sha256_after": str,
        "mode": int,
        "uid": int,
        "gid": int,
    }
    if not isinstance(record, dict) or not all(
        isinstance(record.get(k), t) for k, t in fields.items()
    ):
        raise _Refused("failed", f"backup {token} has an incomplete record")
    if _sha256(original) != record["sha256_before"]:
        raise _Refused("failed", f"backup {token} does not match its recorded sha256")
    return record, original


def config_rollback(params: Any, ctx: ActionContext) -> ActionResult:
    try:
        with _LOCK:
            return _rollback(params.rollback, ctx)
    except _Refused as exc:
        return ActionResult.failure(exc.code, str(exc))
    except PermissionError as exc:
        return ActionResult.failure("permission_denied", f"{exc.filename}: {exc.strerror}")
    except OSError as exc:
        return ActionResult.failure("failed", f"{exc.filename}: {exc.strerror or exc}")


def _rollback(token: str, ctx: ActionContext) -> ActionResult:
    record, original = _load_backup(token)
    path = record["path"]
    data = {"path": path, "rollback": token}
    if os.path.islink(path):  # something else now: restoring would replace the link
        raise _Refused("conflict", f"{path} is now a symbolic link; not restored")
    try:
        current, _ = _read(path)
    except _Refused as exc:
        if exc.code == "not_found":
            raise _Refused("conflict", f"{path} was removed since {token}; not restored") from None
        raise
    now = _sha256(current)
    before = {"path": path, "sha256": now}
    if now == record["sha256_before"]:
        return ActionResult(
            output=f"{path} already has its content from before {token}",
            data=data,
            evidence=Evidence(before=before, after=before),
        )
    if now != record["sha256_after"]:
        raise _Refused(
            "conflict",
            f"{path} has changed since {token} (sha256 {now[:12]}, expected "
            f"{record['sha256_after'][:12]}); not overwritten",
        )
    after = {"path": path, "sha256": record["sha256_before"]}
    diff = _diff(current, original, path)
    if ctx.dry_run:
        return ActionResult(output=diff, data=data, evidence=Evidence(before=before, after=after))
    _replace(path, original, record["mode"], record["uid"], record["gid"], now)
    return ActionResult(
        changed=True, output=diff, data=data, evidence=Evidence(before=before, after=after)
    )


ACTIONS = {"config.set": config_set, "config.rollback": config_rollback}
