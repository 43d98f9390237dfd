"""disk.usage, disk.cleanup and log.rotate on real files in tmp_path."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import catalogue
from agent.actions import disk
from agent.actions.context import ActionContext, Stopped
from agent.actions.disk import ACTIONS as DISK_ACTIONS
from agent.actions.log_rotate import ACTIONS as LOG_ACTIONS
from catalogue import ActionResult

ACTIONS = {**DISK_ACTIONS, **LOG_ACTIONS}

OLD = time.time() - 30 * 86400
WEEK = 7 * 86400
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file semantics")


def run(name: str, params: dict[str, Any], dry_run: bool = False) -> ActionResult:
    return ACTIONS[name](catalogue.validate(name, params), ActionContext(dry_run=dry_run))


def make(path: Path, size: int, old: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if old:
        os.utime(path, (OLD, OLD))
    return path


def age_dirs(*dirs: Path) -> None:
    for d in dirs:
        os.utime(d, (OLD, OLD))


# --- disk.cleanup -------------------------------------------------------------------------


@pytest.fixture
def junk(tmp_path: Path) -> Path:
    root = tmp_path / "cache"
    make(root / "old1.bin", 1000, old=True)
    make(root / "new1.bin", 500)
    make(root / "sub" / "old2.bin", 2345, old=True)
    make(root / "sub" / "new2.bin", 10)
    make(root / "gone" / "deeper" / "old3.bin", 7, old=True)
    age_dirs(root / "gone" / "deeper", root / "gone", root / "sub")
    (root / "fresh-empty").mkdir()
    return root


def test_cleanup_deletes_only_old_files_and_emptied_old_dirs(junk: Path) -> None:
    result = run("disk.cleanup", {"paths": [str(junk)], "older_than_s": WEEK})
    assert result.ok and result.changed
    assert not (junk / "old1.bin").exists()
    assert not (junk / "sub" / "old2.bin").exists()
    assert not (junk / "gone").exists()  # its only file was old, and so was it
    assert (junk / "new1.bin").read_bytes() == b"x" * 500
    assert (junk / "sub" / "new2.bin").exists()
    assert (junk / "fresh-empty").is_dir()  # empty but new: someone just made it
    assert junk.is_dir()  # never the path itself
    assert result.data["files"] == 3
    assert result.data["bytes"] == 1000 + 2345 + 7
    assert result.data["directories"] == 2
    assert result.evidence.before[str(junk)]["files"] == 5
    assert result.evidence.after[str(junk)]["files"] == 2
    assert "deleted 3 files" in result.output


def test_cleanup_dry_run_deletes_nothing_and_reports_the_total(junk: Path) -> None:
    listing = sorted(str(p) for p in junk.rglob("*"))
    result = run("disk.cleanup", {"paths": [str(junk)], "older_than_s": WEEK}, dry_run=True)
    assert result.ok and not result.changed
    assert sorted(str(p) for p in junk.rglob("*")) == listing
    assert result.data["bytes"] == 3352
    assert result.data["files"] == 3
    assert set(result.data["would_delete"]) == {
        str(junk / "old1.bin"),
        str(junk / "sub" / "old2.bin"),
        str(junk / "gone" / "deeper" / "old3.bin"),
        str(junk / "gone" / "deeper") + os.sep,
        str(junk / "gone") + os.sep,
    }
    assert "would delete 3 files" in result.output
    assert result.evidence.after is None


@posix_only
def test_cleanup_removes_old_links_but_never_their_targets(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    precious = make(outside / "precious.db", 99, old=True)
    age_dirs(outside)
    root = tmp_path / "tmp"
    root.mkdir()
    (root / "to-file").symlink_to(precious)
    (root / "to-dir").symlink_to(outside, target_is_directory=True)
    (root / "new-link").symlink_to(precious)
    for link in ("to-file", "to-dir"):
        os.utime(root / link, (OLD, OLD), follow_symlinks=False)
    result = run("disk.cleanup", {"paths": [str(root)], "older_than_s": WEEK})
    assert result.ok
    assert precious.read_bytes() == b"x" * 99
    assert outside.is_dir()
    assert not os.path.lexists(root / "to-file")
    assert not os.path.lexists(root / "to-dir")
    assert os.path.islink(root / "new-link")
    assert result.data["files"] == 2


@posix_only
def test_cleanup_leaves_fifos_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "app.fifo"
    os.mkfifo(fifo)
    os.utime(fifo, (OLD, OLD))
    result = run("disk.cleanup", {"paths": [str(tmp_path)], "older_than_s": WEEK})
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert result.data["skipped_special"] == 1
    assert not result.changed


class _OnOtherDevice:
    """A stat result whose st_dev says another filesystem."""

    def __init__(self, real: os.stat_result) -> None:
        self._real = real
        self.st_dev = real.st_dev + 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_cleanup_does_not_cross_into_another_filesystem(
    junk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = disk._lstat
    monkeypatch.setattr(
        disk, "_lstat", lambda e: _OnOtherDevice(real(e)) if e.name == "sub" else real(e)
    )
    result = run("disk.cleanup", {"paths": [str(junk)], "older_than_s": WEEK})
    assert (junk / "sub" / "old2.bin").exists()
    assert not (junk / "old1.bin").exists()
    assert result.data["other_filesystems"] == [str(junk / "sub")]


def test_cleanup_collects_errors_and_carries_on(
    junk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = disk._remove

    def refuse_old1(parent: Any, name: str, how: Any) -> None:
        if name == "old1.bin":
            raise PermissionError(13, "Permission denied")
        real(parent, name, how)

    monkeypatch.setattr(disk, "_remove", refuse_old1)
    missing = str(junk.parent / "missing")
    result = run("disk.cleanup", {"paths": [missing, str(junk)], "older_than_s": WEEK})
    assert result.ok and result.changed
    assert (junk / "old1.bin").exists()
    assert not (junk / "sub" / "old2.bin").exists()
    errors = {e["path"]: e["error"] for e in result.data["errors"]}
    assert errors[str(junk / "old1.bin")] == "Permission denied"
    assert "does not exist" in errors[missing]
    assert result.data["files"] == 2


def test_a_stopped_run_stops_deleting(junk: Path) -> None:
    ctx = ActionContext()
    ctx.stop()  # what the executor does on timeout or cancel; the thread runs on
    params = catalogue.validate("disk.cleanup", {"paths": [str(junk)], "older_than_s": WEEK})
    with pytest.raises(Stopped):
        ACTIONS["disk.cleanup"](params, ctx)
    assert (junk / "old1.bin").exists() and (junk / "sub" / "old2.bin").exists()


def test_cleanup_fails_when_no_path_is_usable(tmp_path: Path) -> None:
    result = run("disk.cleanup", {"paths": [str(tmp_path / "nope")]})
    assert result.error is not None and result.error.code == "not_found"


@posix_only
def test_cleanup_refuses_a_symlinked_root(tmp_path: Path) -> None:
    make(tmp_path / "real" / "old.bin", 5, old=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    result = run("disk.cleanup", {"paths": [str(tmp_path / "link")], "older_than_s": 0})
    assert result.error is not None
    assert (tmp_path / "real" / "old.bin").exists()


@pytest.mark.skipif(not disk._USE_FDS, reason="descriptor-based walk only")
def test_a_directory_swapped_while_walking_is_not_entered(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(OSError, match="replaced"):
        disk._open_dir(None, str(tmp_path / "a"), os.lstat(tmp_path / "b"))


# --- disk.usage ---------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    make(tmp_path / "big" / "inner" / "blob", 3 * 2**20)
    make(tmp_path / "big" / "top.bin", 2**20)
    make(tmp_path / "mid" / "file", 2**20 + 2**19)
    make(tmp_path / "small" / "file", 4096)
    make(tmp_path / "loose.bin", 4096)
    return tmp_path


def test_usage_ranks_the_largest_directories(tree: Path) -> None:
    result = run("disk.usage", {"path": str(tree), "depth": 2, "top": 10})
    assert result.ok
    top = [(row["path"], row["bytes"]) for row in result.data["top"]]
    assert [p for p, _ in top[:4]] == [
        str(tree / "big"),
        str(tree / "big" / "inner"),
        str(tree / "mid"),
        str(tree / "small"),
    ]
    sizes = dict(top)
    assert sizes[str(tree / "big")] >= 4 * 2**20
    assert sizes[str(tree / "big")] > sizes[str(tree / "big" / "inner")] >= 3 * 2**20
    assert result.data["total_bytes"] >= sum(sizes[str(tree / d)] for d in ("big", "mid", "small"))
    fs = result.data["filesystem"]
    assert fs["total"] >= fs["used"] > 0 and fs["free"] >= 0
    assert str(tree / "big") in result.output.splitlines()[4]


def test_usage_depth_limits_what_is_listed(tree: Path) -> None:
    result = run("disk.usage", {"path": str(tree), "depth": 1, "top": 10})
    listed = {row["path"] for row in result.data["top"]}
    assert listed == {str(tree / d) for d in ("big", "mid", "small")}


def test_usage_top_limits_the_rows(tree: Path) -> None:
    result = run("disk.usage", {"path": str(tree), "depth": 2, "top": 1})
    assert [row["path"] for row in result.data["top"]] == [str(tree / "big")]


@posix_only
def test_usage_does_not_follow_links_or_count_hard_links_twice(tmp_path: Path) -> None:
    outside = make(tmp_path / "outside" / "huge", 4 * 2**20)
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "link").symlink_to(outside.parent, target_is_directory=True)
    blob = make(root / "d" / "blob", 2**20)
    os.link(blob, root / "d" / "blob-again")
    result = run("disk.usage", {"path": str(root), "depth": 1})
    assert 2**20 <= result.data["total_bytes"] < 2 * 2**20


def test_usage_counts_unreadable_directories(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.scandir
    locked = str(tree / "mid")

    def scandir(path: Any) -> Any:
        if path == locked:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = run("disk.usage", {"path": str(tree), "depth": 2})
    assert result.data["unreadable"] == 1
    assert result.data["unreadable_paths"] == [locked]
    assert "1 unreadable" in result.output


def test_usage_stops_at_the_entry_bound(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk, "MAX_ENTRIES", 3)
    result = run("disk.usage", {"path": str(tree)})
    assert result.data["truncated"] is True
    assert "stopped after 3 entries" in result.output


def test_usage_of_a_file_is_refused(tree: Path) -> None:
    result = run("disk.usage", {"path": str(tree / "loose.bin")})
    assert result.error is not None and result.error.code == "invalid_params"


# --- log.rotate ---------------------------------------------------------------------------


def test_rotate_shifts_generations_and_recreates_the_log(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("current")
    (tmp_path / "app.log.1").write_text("one")
    (tmp_path / "app.log.2").write_text("two")
    if sys.platform != "win32":
        os.chmod(log, 0o662)  # bits a usual umask (022) would strip from a new file
    umask = os.umask(0o022)
    try:
        result = run("log.rotate", {"path": str(log), "keep": 3})
    finally:
        os.umask(umask)
    assert result.ok and result.changed
    assert log.read_text() == ""
    assert (tmp_path / "app.log.1").read_text() == "current"
    assert (tmp_path / "app.log.2").read_text() == "one"
    assert (tmp_path / "app.log.3").read_text() == "two"
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(log).st_mode) == 0o662
    assert result.evidence.before == {
        str(log): 7,
        str(tmp_path / "app.log.1"): 3,
        str(tmp_path / "app.log.2"): 3,
    }
    assert result.evidence.after[str(log)] == 0
    assert result.evidence.after[str(tmp_path / "app.log.3")] == 3


def test_rotate_keeps_only_keep_generations(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("now")
    for n in range(1, 6):
        (tmp_path / f"app.log.{n}").write_text(f"gen{n}")
    for other in ("app.log.1.gz", "app.log.01", "app.logx.1"):
        (tmp_path / other).write_text("untouched")
    result = run("log.rotate", {"path": str(log), "keep": 3})
    assert result.ok
    names = sorted(p.name for p in tmp_path.iterdir())
    kept = ["app.log", "app.log.1", "app.log.2", "app.log.3"]
    assert names == sorted([*kept, "app.log.1.gz", "app.log.01", "app.logx.1"])
    assert (tmp_path / "app.log.1").read_text() == "now"
    assert (tmp_path / "app.log.2").read_text() == "gen1"
    assert (tmp_path / "app.log.3").read_text() == "gen2"


@posix_only
@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_rotate_keeps_the_owner(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x")
    os.chown(log, 4321, 4322)
    run("log.rotate", {"path": str(log), "keep": 2})
    st = os.stat(log)
    assert (st.st_uid, st.st_gid) == (4321, 4322)


def test_rotate_dry_run_only_lists_the_plan(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("now")
    (tmp_path / "app.log.1").write_text("one")
    (tmp_path / "app.log.2").write_text("two")
    result = run("log.rotate", {"path": str(log), "keep": 2}, dry_run=True)
    assert result.ok and not result.changed
    assert log.read_text() == "now"
    assert (tmp_path / "app.log.2").read_text() == "two"
    assert result.data["plan"][:3] == [
        f"delete {log}.2",
        f"rename {log}.1 -> {log}.2",
        f"rename {log} -> {log}.1",
    ]
    assert result.data["plan"][3].startswith(f"create empty {log}")


@posix_only
def test_rotate_refuses_links_and_missing_files(tmp_path: Path) -> None:
    target = tmp_path / "real.log"
    target.write_text("x")
    (tmp_path / "link.log").symlink_to(target)
    refused = run("log.rotate", {"path": str(tmp_path / "link.log")})
    assert refused.error is not None and refused.error.code == "invalid_params"
    assert target.read_text() == "x" and not (tmp_path / "link.log.1").exists()
    missing = run("log.rotate", {"path": str(tmp_path / "none.log")})
    assert missing.error is not None and missing.error.code == "not_found"
