"""log.rotate: move a log aside and start an empty one, as logrotate's "create" does.

Renames stay inside the path the policy allowed and never follow a symbolic link.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

from agent.actions.context import ActionContext
from agent.actions.disk import examine
from catalogue import ActionResult
from catalogue.outcomes.logs import generations, plan, planned, rotated, steps, stopped


def _generations(path: str) -> dict[int, str]:
    """path.1, path.2, ... that exist now, by number."""
    directory, base = os.path.split(path)
    found = generations(base, os.listdir(directory))
    return {number: os.path.join(directory, name) for number, name in found.items()}


def _sizes(path: str) -> dict[str, int]:
    sizes = {}
    for _, name in sorted({0: path, **_generations(path)}.items()):
        try:
            sizes[name] = os.lstat(name).st_size
        except FileNotFoundError:
            continue
    return sizes


def _create_like(path: str, st: os.stat_result) -> str | None:
    """An empty file with st's mode and owner; a warning when the owner could not be set."""
    mode = stat.S_IMODE(st.st_mode)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, mode)
    try:
        if sys.platform != "win32":
            os.fchmod(fd, mode)  # os.open's mode passed through the umask
            if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(fd, st.st_uid, st.st_gid)
                except PermissionError:
                    return f"could not give {path} to uid {st.st_uid} gid {st.st_gid}"
    finally:
        os.close(fd)
    return None


def log_rotate(params: Any, ctx: ActionContext) -> ActionResult:
    path = params.path
    st = examine(path, stat.S_ISREG, "a regular file")
    if isinstance(st, ActionResult):
        return st
    moves = steps(path, _generations(path), params.keep)
    lines = plan(path, moves, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    before = _sizes(path)
    if ctx.dry_run:
        return planned(params, lines, before)
    done: list[str] = []
    try:
        for index, (src, dst) in enumerate(moves):
            if dst:
                os.replace(src, dst)
            else:
                os.remove(src)
            done.append(lines[index])
        warning = _create_like(path, st)
        done.append(lines[-1])
    except OSError as exc:
        return stopped(params, exc, done, lines, (before, _sizes(path)))
    return rotated(params, done, warning, (before, _sizes(path)))


ACTIONS = {"log.rotate": log_rotate}
