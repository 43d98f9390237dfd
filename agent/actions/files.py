"""file.stat and log.tail: what a file is, and the end of a log."""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

from agent.actions.context import ActionContext
from catalogue import ActionResult
from catalogue.result import bounded

CHUNK = 1 << 16
MAX_TAIL_SCAN = 64 * 2**20  # bytes read backwards at most when filtering a huge log


def _owner(uid: int, gid: int) -> tuple[str | None, str | None]:
    try:
        import grp
        import pwd
    except ImportError:  # Windows
        return None, None
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = None
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = None
    return user, group


def file_stat(params: Any, ctx: ActionContext) -> ActionResult:
    try:
        info = os.lstat(params.path)
    except FileNotFoundError:
        return ActionResult.failure("not_found", f"{params.path} does not exist")
    except PermissionError:
        return ActionResult.failure("permission_denied", f"cannot read {params.path}")
    user, group = _owner(info.st_uid, info.st_gid)
    data: dict[str, Any] = {
        "path": params.path,
        "type": "symlink"
        if stat.S_ISLNK(info.st_mode)
        else "dir"
        if stat.S_ISDIR(info.st_mode)
        else "file",
        "size": info.st_size,
        "mode": oct(stat.S_IMODE(info.st_mode)),
        "uid": info.st_uid,
        "gid": info.st_gid,
        "owner": user,
        "group": group,
        "modified": info.st_mtime,
        "changed": info.st_ctime,
    }
    if data["type"] == "symlink":
        data["target"] = os.readlink(params.path)
    if params.hash == "sha256" and stat.S_ISREG(info.st_mode):
        digest = hashlib.sha256()
        with open(params.path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        data["sha256"] = digest.hexdigest()
    summary = f"{params.path}: {data['type']}, {data['size']} bytes, {data['mode']} {user}:{group}"
    return ActionResult(output=summary, data=data)


def _tail(path: str, lines: int, grep: str | None) -> list[str]:
    """The last `lines` lines (containing grep, if given), reading backwards in chunks."""
    kept: list[str] = []
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        position, scanned, rest = end, 0, b""
        while position > 0 and len(kept) < lines and scanned < MAX_TAIL_SCAN:
            step = min(CHUNK, position)
            position -= step
            f.seek(position)
            block = f.read(step) + rest
            scanned += step
            parts = block.split(b"\n")
            rest = parts[0] if position > 0 else b""
            complete = parts[1:] if position > 0 else parts
            for raw in reversed(complete):
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if (raw or kept) and (grep is None or grep in line):
                    kept.append(line)
                    if len(kept) >= lines:
                        break
    return list(reversed(kept))


def log_tail(params: Any, ctx: ActionContext) -> ActionResult:
    try:
        found = _tail(params.path, params.lines, params.grep)
    except FileNotFoundError:
        return ActionResult.failure("not_found", f"{params.path} does not exist")
    except (PermissionError, IsADirectoryError) as exc:
        return ActionResult.failure("permission_denied", f"cannot read {params.path}: {exc}")
    return ActionResult(output=bounded("\n".join(found)), data={"lines": len(found)})


ACTIONS = {"file.stat": file_stat, "log.tail": log_tail}
