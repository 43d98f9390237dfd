"""disk.usage (du, df) and disk.cleanup (find -delete) on the endpoint (GNU tools).

Neither follows a symbolic link nor leaves the filesystem of the path it was given, as the
agent's walks do: find and du work on links, never through them, with -xdev and -x.
"""

from __future__ import annotations

import posixpath
from typing import Any

from catalogue import ActionResult
from catalogue.outcomes.disk import MAX_ERRORS, MAX_LISTED, cleanup, freed, no_roots, usage
from controller.transports.base import RemoteContext
from controller.transports.posix.common import Refused, Stat, examine

WALK_TIMEOUT_S = 600.0


def filesystem(ctx: RemoteContext, path: str) -> dict[str, int]:
    """{total, used, free} of the filesystem holding path (free: what users may fill)."""
    shown = ctx.run(["df", "-P", "-B1", "--", path], timeout=60).stdout.splitlines()
    fields = shown[-1].split() if len(shown) > 1 else []
    if len(fields) < 6 or not fields[1].isdigit():
        return {"total": 0, "used": 0, "free": 0}
    return {"total": int(fields[1]), "used": int(fields[2]), "free": int(fields[3])}


def disk_usage(params: Any, ctx: RemoteContext) -> ActionResult:
    try:
        examine(ctx, params.path, "dir", "a directory")
    except Refused as exc:
        return exc.result()
    argv = ["du", "-x", "-B1", f"--max-depth={params.depth}", "--", params.path]
    done = ctx.run(argv, timeout=WALK_TIMEOUT_S)
    totals: dict[str, int] = {}
    for line in done.stdout.splitlines():
        size, _, name = line.partition("\t")
        if size.isdigit():
            totals[name] = int(size)
    unreadable = [
        line.split("'")[1]
        for line in done.stderr.splitlines()
        if "cannot read directory" in line and line.count("'") >= 2
    ]
    fs = filesystem(ctx, params.path)
    # du counts no entries, and passes other filesystems by (-x) without saying which.
    return usage(params, params.path, totals, fs, entries=None, unreadable=unreadable, other_fs=[])


# --- disk.cleanup -----------------------------------------------------------------------


class _Plan:
    """What a cleanup of one root deletes, worked out from one listing, as the agent decides:
    old files and links; then directories that are old and left empty; nothing else."""

    def __init__(self, root: str, root_st: Stat, cutoff: float) -> None:
        self.root, self.dev, self.cutoff = root, root_st.dev, cutoff
        self.files: list[tuple[str, int]] = []  # (path, bytes)
        self.dirs: list[str] = []
        self.files_seen = self.special = 0
        self.other_fs: list[str] = []

    def read(self, listing: str) -> None:
        entries: dict[str, tuple[str, int, float, int]] = {}
        for record in listing.split("\0"):
            fields = record.split("\t", 4)
            if len(fields) == 5:
                entries[fields[4]] = (fields[0], int(fields[1]), float(fields[2]), int(fields[3]))
        keeps: set[str] = set()  # directories that something stays in
        # Deepest first, so a directory is judged after everything inside it.
        for path in sorted(entries, key=lambda p: p.count("/"), reverse=True):
            kind, size, mtime, dev = entries[path]
            parent = posixpath.dirname(path)
            if kind == "d" and dev != self.dev:
                self.other_fs.append(path)
            elif kind in ("f", "l"):
                self.files_seen += 1
                if mtime < self.cutoff:
                    self.files.append((path, size))
                    continue
            elif kind == "d" and path not in keeps and mtime < self.cutoff:
                self.dirs.append(path)
                continue
            elif kind != "d":
                self.special += 1  # sockets, fifos, devices belong to running programs
            keeps.add(parent)


def _listing(ctx: RemoteContext, root: str) -> str:
    fmt = "%y\\t%s\\t%T@\\t%D\\t%p\\0"
    return ctx.run(
        ["find", root, "-xdev", "-mindepth", "1", "-printf", fmt], timeout=WALK_TIMEOUT_S
    ).stdout


def _delete(ctx: RemoteContext, root: str, stamp: str) -> tuple[set[str], list[dict[str, str]]]:
    """Delete old files and links, then old directories left empty, in one find."""
    old = ["!", "-newermt", stamp]
    argv = [
        "find", root, "-xdev", "-mindepth", "1", "-depth",
        "(", "(", "-type", "f", "-o", "-type", "l", ")", *old, "-printf", "%p\\0", "-delete", ")",
        "-o",
        "(", "-type", "d", "-empty", *old, "-printf", "%p\\0", "-delete", ")",
    ]  # fmt: skip
    done = ctx.run(argv, timeout=WALK_TIMEOUT_S)
    errors = []
    for line in done.stderr.splitlines():  # find: cannot delete 'x': Permission denied
        quoted = line.split("'")
        if len(quoted) >= 3:
            errors.append({"path": quoted[1], "error": quoted[-1].lstrip(": ")})
    failed = {e["path"] for e in errors}
    return {p for p in done.stdout.split("\0") if p and p not in failed}, errors


def disk_cleanup(params: Any, ctx: RemoteContext) -> ActionResult:
    # The endpoint's clock decides what is old, as it stamped the files.
    now = float(ctx.run(["date", "+%s"], timeout=15).stdout.strip())
    cutoff = now - params.older_than_s
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    listed: list[str] = []
    errors: list[dict[str, str]] = []
    totals: dict[str, Any] = {"files": 0, "bytes": 0, "dirs": 0, "special": 0, "other": []}
    for root in params.paths:
        try:
            root_st = examine(ctx, root, "dir", "a directory")
        except Refused as exc:
            errors.append({"path": root, "error": str(exc)})
            continue
        plan = _Plan(root, root_st, cutoff)
        plan.read(_listing(ctx, root))
        free = filesystem(ctx, root)["free"]
        before[root] = {"free_bytes": free, "files": plan.files_seen}
        files, dirs = plan.files, plan.dirs
        if not ctx.dry_run:
            deleted, failed = _delete(ctx, root, f"@{cutoff:.3f}")
            errors += failed
            files = [(p, s) for p, s in files if p in deleted]
            dirs = [d for d in dirs if d in deleted]
            left = plan.files_seen - len(files)
            after[root] = {"free_bytes": filesystem(ctx, root)["free"], "files": left}
        for path in [p for p, _ in files] + [d + "/" for d in dirs]:
            ctx.emit(path + "\n")
            if len(listed) < MAX_LISTED:
                listed.append(path)
        totals["files"] += len(files)
        totals["bytes"] += sum(size for _, size in files)
        totals["dirs"] += len(dirs)
        totals["special"] += plan.special
        totals["other"] += plan.other_fs
    if not before:
        return no_roots(errors)
    return cleanup(
        params,
        ctx.dry_run,
        listed=listed,
        files=totals["files"],
        size=totals["bytes"],
        dirs=totals["dirs"],
        errors=errors[:MAX_ERRORS],
        error_count=len(errors),
        special=totals["special"],
        other_fs=totals["other"],
        truncated=False,
        before=before,
        after=after,
        freed=freed(before, after) if after else None,
    )


ACTIONS = {"disk.usage": disk_usage, "disk.cleanup": disk_cleanup}
