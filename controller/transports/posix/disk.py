"""disk.usage (du, df) and disk.cleanup (find -delete) on the endpoint (GNU tools).

Neither follows a symbolic link nor leaves the filesystem of the path it was given, as the
agent's walks do: find and du work on links, never through them, with -xdev and -x.
"""

from __future__ import annotations

import posixpath
from typing import Any

from catalogue import ActionResult, Evidence
from catalogue.result import bounded
from controller.transports.base import RemoteContext
from controller.transports.posix.common import Refused, Stat, examine

MAX_LISTED = 1000  # paths reported in data (counts stay exact)
MAX_ERRORS = 100
WALK_TIMEOUT_S = 600.0


def _human(size: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    return f"{size:.0f} B" if index == 0 else f"{size:.1f} {units[index]}"


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
    total = totals.get(params.path, 0)
    ranked = sorted(
        ((name, size) for name, size in totals.items() if name != params.path),
        key=lambda item: (-item[1], item[0]),
    )[: params.top]
    data = {
        "path": params.path,
        "total_bytes": total,
        "filesystem": fs,
        "top": [{"path": name, "bytes": size} for name, size in ranked],
        "entries": None,  # du does not count the entries it reads
        "truncated": False,
        "unreadable": len(unreadable),
        "unreadable_paths": unreadable[:20],
        "other_filesystems": [],  # du -x passes them by without saying which
    }
    lines = [
        f"{params.path}: {_human(total)}",
        f"filesystem: {_human(fs['total'])} total, {_human(fs['used'])} used, "
        f"{_human(fs['free'])} free",
        "",
        f"{'SIZE':>10}  DIRECTORY",
        *(f"{_human(size):>10}  {name}" for name, size in ranked),
    ]
    if unreadable:
        lines.append(f"skipped {len(unreadable)} unreadable directories (not counted)")
    return ActionResult(output=bounded("\n".join(lines)), data=data)


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
        message = "; ".join(f"{e['path']}: {e['error']}" for e in errors)
        return ActionResult.failure("not_found", message, data={"errors": errors})
    return _report(params, ctx, listed, errors, totals, before, after)


def _report(
    params: Any,
    ctx: RemoteContext,
    listed: list[str],
    errors: list[dict[str, str]],
    totals: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
) -> ActionResult:
    files, size, dirs = totals["files"], totals["bytes"], totals["dirs"]
    lines = [*listed]  # the summary goes last: bounded() keeps the end
    if files + dirs > len(listed):
        lines.append(f"... and {files + dirs - len(listed)} more")
    lines += [f"error: {e['path']}: {e['error']}" for e in errors[:MAX_ERRORS]]
    if totals["other"]:
        lines.append(f"did not enter other filesystems: {', '.join(totals['other'][:5])}")
    if totals["special"]:
        lines.append(f"left {totals['special']} sockets, fifos and devices alone")
    verb = "would delete" if ctx.dry_run else "deleted"
    lines.append(
        f"{verb} {files} files ({_human(size)}, {size} bytes) and {dirs} empty directories "
        f"older than {params.older_than_s} s; {len(errors)} errors"
    )
    if after:
        freed = sum(after[p]["free_bytes"] - before[p]["free_bytes"] for p in after)
        lines.append(f"free space grew by {_human(max(freed, 0))}")
    data = {
        "paths": params.paths,
        "older_than_s": params.older_than_s,
        "dry_run": ctx.dry_run,
        "files": files,
        "bytes": size,
        "directories": dirs,
        ("would_delete" if ctx.dry_run else "deleted"): listed,
        "errors": errors[:MAX_ERRORS],
        "error_count": len(errors),
        "skipped_special": totals["special"],
        "other_filesystems": totals["other"][:20],
        "truncated": False,
    }
    return ActionResult(
        changed=not ctx.dry_run and files + dirs > 0,
        output=bounded("\n".join(lines)),
        data=data,
        evidence=Evidence(before=before, after=after or None),
    )


ACTIONS = {"disk.usage": disk_usage, "disk.cleanup": disk_cleanup}
