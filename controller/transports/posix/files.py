"""file.stat, log.tail and log.rotate on the endpoint (GNU coreutils)."""

from __future__ import annotations

import posixpath
from typing import Any

from catalogue import ActionResult
from catalogue.outcomes.logs import generations, plan, planned, rotated, steps, stopped
from catalogue.result import bounded
from controller.transports.base import RemoteContext
from controller.transports.posix.common import Refused, Stat, examine, lstat, refusal, said

FIRST_TAIL_BYTES = 256 * 1024  # log.tail with grep reads the end in growing windows...
MAX_TAIL_SCAN = 16 * 2**20  # ...up to this much (the agent reads 64 MiB: it pays no wire)


def file_stat(params: Any, ctx: RemoteContext) -> ActionResult:
    try:
        st = lstat(ctx, params.path)
    except Refused as exc:
        return exc.result()
    kind = st.kind if st.kind != "other" else "file"  # as the agent calls fifos and devices
    data: dict[str, Any] = {
        "path": params.path,
        "type": kind,
        "size": st.size,
        "mode": oct(st.mode),
        "uid": st.uid,
        "gid": st.gid,
        "owner": st.owner,
        "group": st.group,
        "modified": st.mtime,
        "changed": st.ctime,
    }
    if kind == "symlink":
        data["target"] = ctx.run(["readlink", "--", params.path], timeout=30).stdout.rstrip("\n")
    if params.hash == "sha256" and st.kind == "file":
        summed = ctx.run(["sha256sum", "--", params.path], timeout=300)
        if summed.returncode != 0:
            return ActionResult.failure("permission_denied", f"cannot read {params.path}")
        # A name with a backslash or newline makes sha256sum escape it and prefix a '\'.
        data["sha256"] = summed.stdout.split()[0].lstrip("\\")
    owner = f"{st.owner}:{st.group}"
    summary = f"{params.path}: {kind}, {st.size} bytes, {data['mode']} {owner}"
    return ActionResult(output=summary, data=data)


def _matching(text: str, grep: str | None, whole: bool) -> list[str]:
    lines = text.split("\n")
    if not whole:
        lines = lines[1:]  # the window began mid-line
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends a line; it does not start one
    kept = [line.rstrip("\r") for line in lines]
    return [line for line in kept if grep is None or grep in line]


def _tail_lines(ctx: RemoteContext, path: str, lines: int) -> list[str]:
    done = ctx.run(["tail", "-n", str(lines), "--", path], timeout=120)
    if done.returncode == 0:
        return _matching(done.stdout, None, whole=True)[-lines:]
    if "Is a directory" in done.stderr:
        raise Refused("permission_denied", f"cannot read {path}: it is a directory")
    raise refusal(path, done)


def _tail(ctx: RemoteContext, path: str, size: int, lines: int, grep: str) -> list[str]:
    window = FIRST_TAIL_BYTES
    while True:
        whole = window >= size
        done = ctx.run(["tail", "-c", str(min(window, size)), "--", path], timeout=120)
        if done.returncode != 0:
            raise Refused("permission_denied", f"cannot read {path}: {said(done)}")
        found = _matching(done.stdout, grep, whole)
        if len(found) >= lines or whole or window >= MAX_TAIL_SCAN:
            return found[-lines:]
        window *= 4


def log_tail(params: Any, ctx: RemoteContext) -> ActionResult:
    try:
        if params.grep is None:
            # One command, not stat then tail: on a warm connection each costs a round trip.
            found = _tail_lines(ctx, params.path, params.lines)
        else:
            st = lstat(ctx, params.path)
            if st.kind == "dir":
                raise Refused("permission_denied", f"cannot read {params.path}: it is a directory")
            found = _tail(ctx, params.path, st.size, params.lines, params.grep)
    except Refused as exc:
        return exc.result()
    return ActionResult(output=bounded("\n".join(found)), data={"lines": len(found)})


# --- log.rotate -------------------------------------------------------------------------


def _generations(ctx: RemoteContext, path: str) -> dict[int, str]:
    """path.1, path.2, ... that exist now, by number."""
    directory, base = posixpath.split(path)
    listed = ctx.run(["find", directory, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\0"])
    found = generations(base, listed.stdout.split("\0"))
    return {number: posixpath.join(directory, name) for number, name in found.items()}


def _sizes(ctx: RemoteContext, path: str) -> dict[str, int]:
    names = [name for _, name in sorted({0: path, **_generations(ctx, path)}.items())]
    shown = ctx.run(["stat", "-c", "%s %n", "--", *names], timeout=60).stdout
    # A name that vanished meanwhile is left out, as the agent leaves it out.
    sizes = (line.partition(" ") for line in shown.splitlines())
    return {name: int(size) for size, _, name in sizes if size.isdigit()}


def _create_like(ctx: RemoteContext, path: str, st: Stat) -> str | None:
    """An empty file with st's mode and owner; a warning when the owner could not be set."""
    made = ctx.run(["install", "-m", format(st.mode, "o"), "/dev/null", path], timeout=30)
    if made.returncode != 0:
        raise Refused("failed", f"cannot create {path}: {said(made)}")
    owned = ctx.run(["chown", f"{st.uid}:{st.gid}", "--", path], timeout=30)
    if owned.returncode != 0:
        return f"could not give {path} to uid {st.uid} gid {st.gid}"
    return None


def log_rotate(params: Any, ctx: RemoteContext) -> ActionResult:
    path = params.path
    try:
        st = examine(ctx, path, "file", "a regular file")
    except Refused as exc:
        return exc.result()
    moves = steps(path, _generations(ctx, path), params.keep)
    lines = plan(path, moves, st.mode, st.uid, st.gid)
    before = _sizes(ctx, path)
    if ctx.dry_run:
        return planned(params, lines, before)
    done: list[str] = []
    try:
        for index, (src, dst) in enumerate(moves):
            # -T: never into a directory of that name; rm and mv act on a link, not its target
            argv = ["mv", "-f", "-T", "--", src, dst] if dst else ["rm", "-f", "--", src]
            moved = ctx.run(argv, timeout=60)
            if moved.returncode != 0:
                raise Refused("failed", said(moved))
            done.append(lines[index])
        warning = _create_like(ctx, path, st)
        done.append(lines[-1])
    except Refused as exc:
        return stopped(params, exc, done, lines, (before, _sizes(ctx, path)))
    return rotated(params, done, warning, (before, _sizes(ctx, path)))


ACTIONS = {"file.stat": file_stat, "log.tail": log_tail, "log.rotate": log_rotate}
