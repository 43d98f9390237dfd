"""log.rotate: move a log aside and start an empty one, as logrotate's "create" does.

Renames stay inside the path the policy allowed and never follow a symbolic link.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from typing import Any

from agent.actions.context import ActionContext
from agent.actions.disk import examine
from catalogue import ActionResult, Evidence


def _generations(path: str) -> dict[int, str]:
    """path.1, path.2, ... that exist now, by number."""
    directory, base = os.path.split(path)
    pattern = re.compile(re.escape(base) + r"\.([1-9][0-9]{0,5})")
    found = {}
    for name in os.listdir(directory):
        match = pattern.fullmatch(name)
        if match:
            found[int(match.group(1))] = os.path.join(directory, name)
    return found


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
    # Oldest first, so no rename ever lands on a file that still has to move; the ones
    # that would pass `keep` are deleted ("" as destination).
    steps = [
        (name, "" if number >= params.keep else f"{path}.{number + 1}")
        for number, name in sorted(_generations(path).items(), reverse=True)
    ]
    steps.append((path, f"{path}.1"))
    mode = oct(stat.S_IMODE(st.st_mode))
    plan = [f"delete {src}" if not dst else f"rename {src} -> {dst}" for src, dst in steps]
    plan.append(f"create empty {path} (mode {mode}, uid {st.st_uid}, gid {st.st_gid})")
    before = _sizes(path)
    if ctx.dry_run:
        return ActionResult(
            output="would:\n" + "\n".join(plan),
            data={"path": path, "keep": params.keep, "plan": plan},
            evidence=Evidence(before=before),
        )
    done: list[str] = []
    try:
        for index, (src, dst) in enumerate(steps):
            if dst:
                os.replace(src, dst)
            else:
                os.remove(src)
            done.append(plan[index])
        warning = _create_like(path, st)
        done.append(plan[-1])
    except OSError as exc:
        return ActionResult.failure(
            "failed",
            f"rotation stopped: {exc}",
            changed=bool(done),
            data={"path": path, "done": done, "plan": plan},
            evidence=Evidence(before=before, after=_sizes(path)),
        )
    output = [
        *done,
        f"the program keeps writing to {path}.1 until it reopens its log"
        " (restart it, or send the signal it reopens logs on)",
    ]
    if warning:
        output.append(f"warning: {warning}")
    return ActionResult(
        changed=True,
        output="\n".join(output),
        data={"path": path, "keep": params.keep, "done": done, "warning": warning},
        evidence=Evidence(before=before, after=_sizes(path)),
    )


ACTIONS = {"log.rotate": log_rotate}
