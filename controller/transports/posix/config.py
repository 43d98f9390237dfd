"""config.set and config.rollback on the endpoint, with the agent's results and safety rules.

The file's bytes come over as base64, the edit is planned here with catalogue.config_edit
(the agent's own editor), and common.replace writes the result back in one rename with
the file's mode and owner, refusing if the file changed meanwhile.

Backups stay on the endpoint, in the login's home: ~/.deskside/config-backups/<token>.bak
(the bytes before) and <token>.json (hashes, mode, owner), made readable by their owner only
since they may hold secrets. The path is relative on purpose: an ssh command starts in the
home directory, and sudo keeps the working directory. So a rollback token works on the
endpoint, and with the login (and the sudo setting), that made it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from catalogue import ActionResult
from catalogue.config_edit import outcome
from catalogue.config_edit.outcome import MAX_SIZE
from controller.transports.base import RemoteContext
from controller.transports.posix.common import (
    Refused,
    Stat,
    lstat,
    read_bytes,
    replace,
    said,
    sha256,
)

BACKUPS = ".deskside/config-backups"
# Constant: creates $1 from stdin, owner-only, failing if it exists (set -C: O_EXCL).
_WRITE_PRIVATE = 'umask 077 && set -C && base64 -d > "$1"'
_FAILURES = (Refused, outcome.Refused)


def _real(ctx: RemoteContext, path: str) -> str:
    """Where a symbolic link leads (replacing the link would cut it), as the agent edits."""
    done = ctx.run(["realpath", "-m", "--", path], timeout=30)
    return done.stdout.rstrip("\n") if done.returncode == 0 and done.stdout.strip() else path


def _read(ctx: RemoteContext, path: str) -> tuple[bytes, Stat]:
    st = lstat(ctx, path)
    if st.kind != "file":
        raise Refused("not_found", f"{path} is not a regular file")
    if st.size > MAX_SIZE:
        raise Refused("too_large", f"{path} is {st.size} bytes; the limit is {MAX_SIZE}")
    content = read_bytes(ctx, path)
    if len(content) > MAX_SIZE:  # it grew between stat and read
        raise Refused("too_large", f"{path} is over {MAX_SIZE} bytes")
    return content, st


def _backup(token: str, suffix: str) -> str:
    return f"{BACKUPS}/{token}{suffix}"


def _write_private(ctx: RemoteContext, path: str, content: bytes) -> None:
    encoded = base64.b64encode(content).decode("ascii")
    done = ctx.run(["sh", "-c", _WRITE_PRIVATE, "sh", path], stdin=encoded, timeout=60)
    if done.returncode != 0:
        raise Refused("failed", f"cannot keep a backup in ~/{path}: {said(done)}")


def _save_backup(ctx: RemoteContext, path: str, change: outcome.Change, st: Stat) -> str:
    made = ctx.run(["mkdir", "-p", "-m", "700", "--", BACKUPS], timeout=30)
    if made.returncode != 0:
        raise Refused("failed", f"cannot make ~/{BACKUPS}: {said(made)}")
    token = outcome.new_token()
    record = outcome.record(change, path, mode=st.mode, uid=st.uid, gid=st.gid)
    try:
        _write_private(ctx, _backup(token, ".bak"), change.original)
        # The sidecar last: a backup without one is incomplete and rollback will not use it.
        sidecar = json.dumps(record, indent=2).encode() + b"\n"
        _write_private(ctx, _backup(token, ".json"), sidecar)
    except BaseException:
        _drop_backup(ctx, token)
        raise
    return token


def _drop_backup(ctx: RemoteContext, token: str) -> None:
    ctx.run(["rm", "-f", "--", _backup(token, ".json"), _backup(token, ".bak")], timeout=30)


def config_set(params: Any, ctx: RemoteContext) -> ActionResult:
    data = outcome.described(params)
    try:
        path = _real(ctx, params.path)
        original, st = _read(ctx, path)
        change = outcome.plan(params, path, original, data)
        if not change.needed or ctx.dry_run:
            return change.result()
        token = _save_backup(ctx, path, change, st)
        try:
            replace(ctx, path, change.updated, st, sha256(original))
        except BaseException:
            _drop_backup(ctx, token)  # the file is as it was: nothing to roll back
            raise
    except _FAILURES as exc:
        return ActionResult.failure(exc.code, str(exc), data=data)
    return change.result(token)


def _load_backup(ctx: RemoteContext, token: str) -> tuple[dict[str, Any], bytes]:
    outcome.check_token(token)
    try:
        raw = read_bytes(ctx, _backup(token, ".json"))
        original = read_bytes(ctx, _backup(token, ".bak"))
    except Refused as exc:
        if exc.code == "not_found":
            raise Refused("not_found", f"no backup {token} on this endpoint") from None
        raise
    return outcome.loaded(token, raw, original, outcome.OWNER_FIELDS), original


def _current(ctx: RemoteContext, path: str) -> tuple[bytes, Stat] | None:
    """The file now; None when it is gone (or no longer a regular file)."""
    try:
        if lstat(ctx, path).kind == "symlink":  # restoring would replace the link
            raise Refused("conflict", f"{path} is now a symbolic link; not restored")
        return _read(ctx, path)
    except Refused as exc:
        if exc.code == "not_found":
            return None
        raise


def config_rollback(params: Any, ctx: RemoteContext) -> ActionResult:
    token = params.rollback
    try:
        record, original = _load_backup(ctx, token)
        path = record["path"]
        found = _current(ctx, path)
        restore = outcome.plan_rollback(token, record, original, found[0] if found else None)
        if not restore.needed or ctx.dry_run:
            return restore.result(done=False)
        assert found is not None  # plan_rollback refuses a file that is gone
        like = dataclasses.replace(
            found[1], mode=record["mode"], uid=record["uid"], gid=record["gid"]
        )
        replace(ctx, path, original, like, restore.before["sha256"])
    except _FAILURES as exc:
        return ActionResult.failure(exc.code, str(exc))
    return restore.result(done=True)


ACTIONS = {"config.set": config_set, "config.rollback": config_rollback}
