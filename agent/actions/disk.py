"""disk.usage and disk.cleanup: what fills a disk, and making room.

Both walk or rename inside paths the policy has already allowed, and none of them
follows a symbolic link: the agent usually runs as root, and the directories it cleans
(/tmp, caches) are writable by every user, so a link must never lead it elsewhere.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable
from typing import Any

from agent.actions.context import ActionContext, Stopped
from catalogue import ActionResult
from catalogue.outcomes.disk import (
    MAX_ENTRIES,
    MAX_ERRORS,
    MAX_LISTED,
    cleanup,
    freed,
    no_roots,
    usage,
)

MAX_DEPTH = 64  # cleanup nesting; each level holds a directory descriptor open
# Directory descriptors make the cleanup immune to a directory being swapped for a link
# between looking at it and deleting in it (the classic tmpreaper attack); Windows has none.
_USE_FDS = (
    os.open in os.supports_dir_fd
    and os.unlink in os.supports_dir_fd
    and os.rmdir in os.supports_dir_fd
    and os.scandir in os.supports_fd
)

Handle = int | str  # a directory descriptor (POSIX) or a path (Windows)


def _check_stop(ctx: ActionContext, entries: int) -> None:
    """Stop a walk whose run was cancelled or timed out: the worker thread outlives it."""
    # ActionContext exposes no public flag yet; a cleanup must not go on deleting unseen.
    if entries % 1024 == 1 and ctx.stopped:
        raise Stopped("run stopped")


def _lstat(entry: os.DirEntry[str]) -> os.stat_result:
    # On Windows DirEntry.stat leaves st_dev at 0, which would defeat the filesystem check.
    return os.lstat(entry.path) if os.name == "nt" else entry.stat(follow_symlinks=False)


def _is_link(st: os.stat_result) -> bool:
    # Windows junctions are reparse points that lstat does not call links.
    reparse = getattr(st, "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_REPARSE_POINT
    return stat.S_ISLNK(st.st_mode) or bool(reparse)


def _is_dir(st: os.stat_result) -> bool:
    return stat.S_ISDIR(st.st_mode) and not _is_link(st)


def _allocated(st: os.stat_result) -> int:
    # What a file costs the disk (sparse files, block rounding), as du counts it.
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks is not None else st.st_size


def examine(path: str, is_kind: Callable[[int], bool], kind: str) -> os.stat_result | ActionResult:
    """What path is, when it is a `kind` and not a link; else the failure to return."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ActionResult.failure("not_found", f"{path} does not exist")
    except PermissionError:
        return ActionResult.failure("permission_denied", f"cannot read {path}")
    if _is_link(st):
        target = os.path.realpath(path)
        message = f"{path} is a symbolic link; give what it points to ({target})"
        return ActionResult.failure("invalid_params", message)
    if not is_kind(st.st_mode):
        return ActionResult.failure("invalid_params", f"{path} is not {kind}")
    return st


# --- disk.usage -------------------------------------------------------------------------


def disk_usage(params: Any, ctx: ActionContext) -> ActionResult:
    root = examine(params.path, stat.S_ISDIR, "a directory")
    if isinstance(root, ActionResult):
        return root
    totals: dict[str, int] = {params.path: _allocated(root)}
    seen_inodes: set[tuple[int, int]] = set()  # hard links count once, as du counts them
    unreadable: list[str] = []
    other_fs: list[str] = []
    entries, truncated = 0, False
    # chain: the reported directories (depth <= params.depth) this one lies inside.
    stack: list[tuple[str, int, tuple[str, ...]]] = [(params.path, 0, (params.path,))]
    while stack and not truncated:
        directory, level, chain = stack.pop()
        try:
            listing = os.scandir(directory)
        except OSError:
            unreadable.append(directory)
            continue
        with listing:
            for entry in listing:
                entries += 1
                _check_stop(ctx, entries)
                if entries > MAX_ENTRIES:
                    truncated = True
                    break
                try:
                    st = _lstat(entry)
                except OSError:  # gone since it was listed
                    continue
                size = _allocated(st)
                if _is_dir(st):
                    if st.st_dev != root.st_dev:
                        other_fs.append(entry.path)
                        continue
                    inner = (*chain, entry.path) if level < params.depth else chain
                    for name in inner:
                        totals[name] = totals.get(name, 0) + size
                    stack.append((entry.path, level + 1, inner))
                    continue
                if st.st_nlink > 1:
                    if (st.st_dev, st.st_ino) in seen_inodes:
                        continue
                    seen_inodes.add((st.st_dev, st.st_ino))
                for name in chain:
                    totals[name] += size
    fs = shutil.disk_usage(params.path)
    filesystem = {"total": fs.total, "used": fs.used, "free": fs.free}
    return usage(
        params,
        params.path,
        totals,
        filesystem,
        entries=entries,
        truncated=truncated,
        unreadable=unreadable,
        other_fs=other_fs,
        limit=MAX_ENTRIES,
    )


# --- disk.cleanup -----------------------------------------------------------------------


class _Cleaner:
    """Deletes (or, in a dry run, lists) old files under one root, deepest first."""

    def __init__(self, cutoff: float, ctx: ActionContext) -> None:
        self.cutoff, self.ctx, self.dry_run, self.entries = cutoff, ctx, ctx.dry_run, 0
        self.root_dev = 0
        self.files_seen = self.files = self.bytes = self.dirs = 0
        self.listed: list[str] = []
        self.errors: list[dict[str, str]] = []
        self.error_count = self.special = 0
        self.other_fs: list[str] = []
        self.truncated = False

    def error(self, path: str, exc: OSError | str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            reason = exc if isinstance(exc, str) else exc.strerror or str(exc)
            self.errors.append({"path": path, "error": reason})

    def record(self, path: str) -> None:
        self.ctx.emit(path + "\n")
        if len(self.listed) < MAX_LISTED:
            self.listed.append(path)

    def clean(self, path: str, root: os.stat_result) -> None:
        self.root_dev = root.st_dev
        handle = _open_dir(None, path, root)
        try:
            self._walk(handle, path, 0)
        finally:
            _close(handle)

    def _walk(self, handle: Handle, shown: str, depth: int) -> bool:
        """Clean one directory; True when it is (in a dry run: would be) left empty."""
        empty = True
        with os.scandir(handle) as listing:
            for entry in listing:
                self.entries += 1
                _check_stop(self.ctx, self.entries)
                if self.entries > MAX_ENTRIES:
                    self.truncated = True
                    return False
                path = os.path.join(shown, entry.name)
                try:
                    st = _lstat(entry)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    self.error(path, exc)
                    empty = False
                    continue
                if _is_dir(st):
                    empty = self._subdir(handle, entry.name, path, st, depth) and empty
                elif stat.S_ISREG(st.st_mode) or _is_link(st):
                    empty = self._file(handle, entry.name, path, st) and empty
                else:  # sockets, fifos, devices belong to running programs: never ours
                    self.special += 1
                    empty = False
        return empty

    def _subdir(self, parent: Handle, name: str, path: str, st: os.stat_result, depth: int) -> bool:
        if st.st_dev != self.root_dev:
            self.other_fs.append(path)
            return False
        if depth >= MAX_DEPTH:
            self.error(path, f"nested deeper than {MAX_DEPTH} levels; not entered")
            return False
        try:
            child = _open_dir(parent, name, st)
        except OSError as exc:
            self.error(path, exc)
            return False
        try:
            emptied = self._walk(child, path, depth + 1)
        except OSError as exc:
            self.error(path, exc)
            emptied = False
        finally:
            _close(child)
        # st was taken before the walk: the age is the directory's, not our deletions'.
        if not emptied or self.truncated or st.st_mtime >= self.cutoff:
            return False
        if not self.dry_run:
            try:
                _remove(parent, name, os.rmdir)
            except OSError:  # something appeared in it meanwhile: it stays
                return False
        self.dirs += 1
        self.record(path + os.sep)
        return True

    def _file(self, parent: Handle, name: str, path: str, st: os.stat_result) -> bool:
        self.files_seen += 1
        if st.st_mtime >= self.cutoff:
            return False
        if not self.dry_run:
            try:
                _remove(parent, name, os.unlink)  # unlink removes a link, never its target
            except FileNotFoundError:
                return True
            except OSError as exc:
                self.error(path, exc)
                return False
        self.files += 1
        self.bytes += st.st_size
        self.record(path)
        return True


def _open_dir(parent: Handle | None, name: str, expected: os.stat_result) -> Handle:
    """Open a directory without following links; it must be the one lstat saw."""
    if not _USE_FDS:
        return name if parent is None else os.path.join(str(parent), name)
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(name, flags) if parent is None else os.open(name, flags, dir_fd=int(parent))
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (expected.st_dev, expected.st_ino):
        os.close(fd)
        raise OSError(f"{name} was replaced while being cleaned")
    return fd


def _close(handle: Handle) -> None:
    if isinstance(handle, int):
        os.close(handle)


def _remove(parent: Handle, name: str, how: Callable[..., None]) -> None:
    if isinstance(parent, int):
        how(name, dir_fd=parent)
    else:
        how(os.path.join(parent, name))


def disk_cleanup(params: Any, ctx: ActionContext) -> ActionResult:
    cutoff = time.time() - params.older_than_s
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    cleaner = _Cleaner(cutoff, ctx)
    for path in params.paths:
        root = examine(path, stat.S_ISDIR, "a directory")
        if isinstance(root, ActionResult):
            cleaner.error(path, root.error.message if root.error else "unusable")
            continue
        free = shutil.disk_usage(path).free
        seen, removed = cleaner.files_seen, cleaner.files
        try:
            cleaner.clean(path, root)
        except OSError as exc:
            cleaner.error(path, exc)
        # The file counts come from the walk itself; a second walk would double the cost.
        files = cleaner.files_seen - seen
        before[path] = {"free_bytes": free, "files": files}
        if not ctx.dry_run:
            left = files - (cleaner.files - removed)
            after[path] = {"free_bytes": shutil.disk_usage(path).free, "files": left}
        if cleaner.truncated:
            break
    if not before:
        return no_roots(cleaner.errors)
    return cleanup(
        params,
        ctx.dry_run,
        listed=cleaner.listed,
        files=cleaner.files,
        size=cleaner.bytes,
        dirs=cleaner.dirs,
        errors=cleaner.errors,
        error_count=cleaner.error_count,
        special=cleaner.special,
        other_fs=cleaner.other_fs,
        truncated=cleaner.truncated,
        before=before,
        after=after,
        freed=None if ctx.dry_run else freed(before, after),
        limit=MAX_ENTRIES,
    )


# --- log.rotate -------------------------------------------------------------------------


ACTIONS = {"disk.usage": disk_usage, "disk.cleanup": disk_cleanup}
