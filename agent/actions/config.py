"""config.set and config.rollback: change one key in a configuration file, and undo it.

config.set keeps the original bytes in the state directory's backups/ (with a JSON
sidecar of hashes, mode and owner) before replacing the file atomically; the token it
returns names that backup. config.rollback restores it byte for byte, but only over the
content config.set wrote: if someone changed the file since, it refuses.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

from agent.actions.context import ActionContext
from agent.settings import AgentSettings
from catalogue import ActionResult
from catalogue.config_edit import outcome
from catalogue.config_edit.outcome import MAX_SIZE, Refused, sha256

BACKUPS = "backups"
# Runs are threads: one edit at a time, so two runs on one file cannot interleave.
_LOCK = threading.Lock()


def _backups_dir() -> Path:
    state = os.environ.get("DESKSIDE_AGENT_DIR")
    return (Path(state) if state else AgentSettings.from_env().state_dir) / BACKUPS


def _read(path: str) -> tuple[bytes, os.stat_result]:
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not_found", f"{path} is not a regular file")
        if info.st_size > MAX_SIZE:
            raise Refused("too_large", f"{path} is {info.st_size} bytes; the limit is {MAX_SIZE}")
        with open(path, "rb") as f:
            content = f.read(MAX_SIZE + 1)
    except FileNotFoundError:
        raise Refused("not_found", f"{path} does not exist") from None
    except PermissionError as exc:
        raise Refused("permission_denied", f"cannot read {path}: {exc.strerror}") from None
    if len(content) > MAX_SIZE:  # it grew between stat and read
        raise Refused("too_large", f"{path} is over {MAX_SIZE} bytes")
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
                    raise Refused(
                        "permission_denied", f"cannot give the new {path} its owner {uid}:{gid}"
                    ) from None
            os.fsync(f.fileno())
        with open(path, "rb") as current:
            if sha256(current.read(MAX_SIZE + 1)) != expected:
                raise Refused("conflict", f"{path} changed while it was being edited")
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


def _save_backup(path: str, change: outcome.Change, info: os.stat_result) -> str:
    backups = _backups_dir()
    backups.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = outcome.new_token()
    mode = stat.S_IMODE(info.st_mode)
    record = outcome.record(change, path, mode=mode, uid=info.st_uid, gid=info.st_gid)
    try:
        _write_new(backups / f"{token}.bak", change.original)
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
    data = outcome.described(params)
    try:
        with _LOCK:
            return _set(path, params, data, ctx)
    except Refused as exc:
        return ActionResult.failure(exc.code, str(exc), data=data)
    except PermissionError as exc:
        return ActionResult.failure("permission_denied", f"{exc.filename}: {exc.strerror}")
    except OSError as exc:
        return ActionResult.failure("failed", f"{exc.filename or path}: {exc.strerror or exc}")


def _set(path: str, params: Any, data: dict[str, Any], ctx: ActionContext) -> ActionResult:
    original, info = _read(path)
    change = outcome.plan(params, path, original, data)
    if not change.needed or ctx.dry_run:
        return change.result()
    token = _save_backup(path, change, info)
    try:
        _replace(path, change.updated, info.st_mode, info.st_uid, info.st_gid, sha256(original))
    except BaseException:
        _drop_backup(token)  # the file is as it was: nothing to roll back
        raise
    return change.result(token)


def _load_backup(token: str) -> tuple[dict[str, Any], bytes]:
    outcome.check_token(token)
    backups = _backups_dir()
    try:
        raw = (backups / f"{token}.json").read_bytes()
        original = (backups / f"{token}.bak").read_bytes()
    except FileNotFoundError:
        raise Refused("not_found", f"no backup {token} on this machine") from None
    return outcome.loaded(token, raw, original, outcome.OWNER_FIELDS), original


def config_rollback(params: Any, ctx: ActionContext) -> ActionResult:
    try:
        with _LOCK:
            return _rollback(params.rollback, ctx)
    except Refused as exc:
        return ActionResult.failure(exc.code, str(exc))
    except PermissionError as exc:
        return ActionResult.failure("permission_denied", f"{exc.filename}: {exc.strerror}")
    except OSError as exc:
        return ActionResult.failure("failed", f"{exc.filename}: {exc.strerror or exc}")


def _rollback(token: str, ctx: ActionContext) -> ActionResult:
    record, original = _load_backup(token)
    path = record["path"]
    if os.path.islink(path):  # something else now: restoring would replace the link
        raise Refused("conflict", f"{path} is now a symbolic link; not restored")
    try:
        current: bytes | None = _read(path)[0]
    except Refused as exc:
        if exc.code != "not_found":
            raise
        current = None
    restore = outcome.plan_rollback(token, record, original, current)
    if not restore.needed or ctx.dry_run:
        return restore.result(done=False)
    now = restore.before["sha256"]
    _replace(path, original, record["mode"], record["uid"], record["gid"], now)
    return restore.result(done=True)


ACTIONS = {"config.set": config_set, "config.rollback": config_rollback}
