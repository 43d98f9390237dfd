"""disk.usage and disk.cleanup: the reports every transport builds from what it walked.

The agent walks with os.scandir, ssh with du and find, winrm with a script; the sizes
shown, the lines and the data keys come from here, so each answer reads the same.
"""

from __future__ import annotations

from typing import Any

from catalogue.result import ActionResult, Evidence, bounded

MAX_ENTRIES = 2_000_000  # directory entries examined per run: a bound on time and memory
MAX_LISTED = 1000  # paths reported in data (counts stay exact)
MAX_ERRORS = 100


def human(size: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    return f"{size:.0f} B" if index == 0 else f"{size:.1f} {units[index]}"


def usage(
    params: Any,
    root: str,
    totals: dict[str, int],
    filesystem: dict[str, int],
    *,
    entries: int | None,
    truncated: bool = False,
    unreadable: list[str],
    other_fs: list[str],
    limit: int = MAX_ENTRIES,
) -> ActionResult:
    """disk.usage's answer from each reported directory's bytes, root's (the walked
    params.path, as the walker names it) included.

    entries is None where the walker does not count what it read (du); limit is the
    walker's bound on entries.
    """
    ranked = sorted(
        ((name, size) for name, size in totals.items() if name != root),
        key=lambda item: (-item[1], item[0]),
    )[: params.top]
    total = totals.get(root, 0)
    data = {
        "path": params.path,
        "total_bytes": total,
        "filesystem": filesystem,
        "top": [{"path": name, "bytes": size} for name, size in ranked],
        "entries": entries,
        "truncated": truncated,
        "unreadable": len(unreadable),
        "unreadable_paths": unreadable[:20],
        "other_filesystems": other_fs[:20],
    }
    counted = "" if entries is None else f" in {min(entries, limit):,} entries"
    fs = filesystem
    lines = [
        f"{params.path}: {human(total)}{counted}",
        f"filesystem: {human(fs['total'])} total, {human(fs['used'])} used, "
        f"{human(fs['free'])} free",
        "",
        f"{'SIZE':>10}  DIRECTORY",
        *(f"{human(size):>10}  {name}" for name, size in ranked),
    ]
    if unreadable:
        lines.append(f"skipped {len(unreadable)} unreadable directories (not counted)")
    if other_fs:
        lines.append(f"did not enter {len(other_fs)} other filesystems: {', '.join(other_fs[:5])}")
    if truncated:
        lines.append(f"stopped after {limit:,} entries: the sizes are lower bounds")
    return ActionResult(output=bounded("\n".join(lines)), data=data)


def no_roots(errors: list[dict[str, Any]]) -> ActionResult:
    """disk.cleanup's failure when none of its paths could be cleaned."""
    message = "; ".join(f"{e.get('path')}: {e.get('error')}" for e in errors)
    return ActionResult.failure("not_found", message, data={"errors": errors})


def cleanup(
    params: Any,
    dry_run: bool,
    *,
    listed: list[str],
    files: int,
    size: int,
    dirs: int,
    errors: list[dict[str, Any]],
    error_count: int,
    special: int,
    special_kind: str = "sockets, fifos and devices",
    other_fs: list[str],
    truncated: bool,
    before: dict[str, Any],
    after: dict[str, Any],
    freed: int | None,
    limit: int = MAX_ENTRIES,
) -> ActionResult:
    """disk.cleanup's report; errors are already cut to MAX_ERRORS, error_count is not.

    freed is the free space gained over the roots, None where it is not reported.
    """
    lines = [*listed]  # the summary goes last: bounded() keeps the end of long output
    if files + dirs > len(listed):
        lines.append(f"... and {files + dirs - len(listed)} more")
    lines += [f"error: {e.get('path')}: {e.get('error')}" for e in errors]
    if other_fs:
        lines.append(f"did not enter other filesystems: {', '.join(other_fs[:5])}")
    if special:
        lines.append(f"left {special} {special_kind} alone")
    if truncated:
        lines.append(f"stopped after {limit:,} entries: run again to continue")
    verb = "would delete" if dry_run else "deleted"
    lines.append(
        f"{verb} {files} files ({human(size)}, {size} bytes) and {dirs} empty directories "
        f"older than {params.older_than_s} s; {error_count} errors"
    )
    if freed is not None:
        lines.append(f"free space grew by {human(max(freed, 0))}")
    data = {
        "paths": params.paths,
        "older_than_s": params.older_than_s,
        "dry_run": dry_run,
        "files": files,
        "bytes": size,
        "directories": dirs,
        ("would_delete" if dry_run else "deleted"): listed,
        "errors": errors,
        "error_count": error_count,
        "skipped_special": special,
        "other_filesystems": other_fs[:20],
        "truncated": truncated,
    }
    return ActionResult(
        changed=not dry_run and files + dirs > 0,
        output=bounded("\n".join(lines)),
        data=data,
        evidence=Evidence(before=before, after=after or None),
    )


def freed(before: dict[str, Any], after: dict[str, Any]) -> int:
    """Free bytes gained over the roots cleaned: after's minus before's."""
    return sum(after[p]["free_bytes"] - before[p]["free_bytes"] for p in after)
