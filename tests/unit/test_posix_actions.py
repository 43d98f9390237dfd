"""The posix (ssh) actions run for real on this machine through LocalShell, and give the
agent's result shapes: where practical the agent's action runs too and the keys compare."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from local_shell import local_context

from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext
from catalogue import actions as params
from controller.transports.posix import ACTIONS

DAY = 86400


def both(name: str, given: Any, dry_run: bool = False) -> tuple[Any, Any]:
    """The remote action's result and the agent's, for the same params."""
    remote = ACTIONS[name](given, local_context(dry_run=dry_run))
    agent = IMPLEMENTATIONS[name](given, ActionContext(dry_run=dry_run))
    return remote, agent


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_registry_names_are_catalogue_actions() -> None:
    from catalogue.actions import SPECS

    assert set(ACTIONS) <= {spec.name for spec in SPECS}
    assert "time.sync" not in ACTIONS  # stepping a remote clock is left to the agent


def test_file_stat_matches_the_agent(tmp_path: Path) -> None:
    target = tmp_path / "a file.txt"
    target.write_bytes(b"hello\n")
    (tmp_path / "link").symlink_to(target)
    for path in (target, tmp_path / "link", tmp_path):
        remote, agent = both("file.stat", params.FileStat(path=str(path)))
        assert remote.ok and agent.ok
        assert remote.data.keys() == agent.data.keys()
        for key in ("type", "size", "mode", "uid", "owner", "group", "sha256", "target"):
            assert remote.data.get(key) == agent.data.get(key), key
        assert remote.data["modified"] == pytest.approx(agent.data["modified"], abs=1e-3)
    missing = ACTIONS["file.stat"](params.FileStat(path=str(tmp_path / "no")), local_context())
    assert missing.error is not None and missing.error.code == "not_found"


@pytest.mark.parametrize(("lines", "grep"), [(3, None), (2, "err"), (50, "err"), (5, "absent")])
def test_log_tail_matches_the_agent(tmp_path: Path, lines: int, grep: str | None) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"{i} {'err' if i % 3 == 0 else 'ok'}\n" for i in range(40)))
    remote, agent = both("log.tail", params.LogTail(path=str(log), lines=lines, grep=grep))
    assert remote.output == agent.output
    assert remote.data == agent.data


def test_log_tail_with_grep_reads_beyond_the_first_window(tmp_path: Path) -> None:
    from controller.transports.posix import files

    log = tmp_path / "big.log"
    log.write_text("needle first\n" + "x" * 80 + "\n" * (files.FIRST_TAIL_BYTES // 40))
    got = ACTIONS["log.tail"](
        params.LogTail(path=str(log), lines=5, grep="needle"), local_context()
    )
    assert got.output == "needle first"
    directory = ACTIONS["log.tail"](params.LogTail(path=str(tmp_path)), local_context())
    assert directory.error is not None and directory.error.code == "permission_denied"


@pytest.mark.parametrize("grep", [None, "err"])
def test_log_tail_refuses_what_the_agent_refuses(tmp_path: Path, grep: str | None) -> None:
    for path in (tmp_path / "missing.log", tmp_path):
        remote, agent = both("log.tail", params.LogTail(path=str(path), grep=grep))
        assert remote.error is not None and agent.error is not None
        assert remote.error.code == agent.error.code, (path, remote.error, agent.error)


def test_disk_usage_matches_the_agent(tmp_path: Path) -> None:
    (tmp_path / "big" / "inner").mkdir(parents=True)
    (tmp_path / "big" / "inner" / "f").write_bytes(b"x" * 200_000)
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "f").write_bytes(b"x" * 10)
    remote, agent = both("disk.usage", params.DiskUsage(path=str(tmp_path), depth=1))
    assert remote.data.keys() == agent.data.keys()
    assert remote.data["total_bytes"] == agent.data["total_bytes"]
    assert remote.data["top"] == agent.data["top"]
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "big")
    refused = ACTIONS["disk.usage"](params.DiskUsage(path=str(link)), local_context())
    assert refused.error is not None and refused.error.code == "invalid_params"


def _tree(root: Path) -> None:
    """Old and new files, an old directory that empties, a link to outside, a fifo."""
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir()
    (outside / "keep").write_text("never deleted")
    (root / "old").write_text("o" * 100)
    (root / "new").write_text("n")
    (root / "olddir" / "deeper").mkdir(parents=True)
    (root / "olddir" / "deeper" / "old").write_text("o")
    (root / "mixed").mkdir()
    (root / "mixed" / "old").write_text("o")
    (root / "mixed" / "new").write_text("n")
    (root / "to-outside").symlink_to(outside)
    os.mkfifo(root / "fifo")
    for path in ("old", "olddir/deeper/old", "mixed/old", "to-outside", "fifo"):
        age(root / path, 3 * DAY)
    for path in ("olddir/deeper", "olddir", "mixed"):
        age(root / path, 3 * DAY)


@pytest.mark.parametrize("dry_run", [True, False])
def test_disk_cleanup_matches_the_agent(tmp_path: Path, dry_run: bool) -> None:
    results = {}
    for who in ("remote", "agents"):  # equal lengths: same link sizes
        root = tmp_path / who
        root.mkdir()
        _tree(root)
        given = params.DiskCleanup(paths=[str(root)], older_than_s=DAY)
        run = ACTIONS["disk.cleanup"] if who == "remote" else IMPLEMENTATIONS["disk.cleanup"]
        context = local_context(dry_run=dry_run) if who == "remote" else ActionContext(dry_run)
        result = run(given, context)  # type: ignore[arg-type]
        listed = result.data["would_delete" if dry_run else "deleted"]
        results[who] = (result, {p.replace(str(root), "") for p in listed})
        left = {str(p.relative_to(root)) for p in root.rglob("*")}
        assert (tmp_path / f"{who}-outside" / "keep").exists()
        if dry_run:
            assert "old" in left
        else:
            assert left == {"new", "mixed", "mixed/new", "fifo"}
    (remote, remote_paths), (agent, agent_paths) = results["remote"], results["agents"]
    assert remote_paths == agent_paths
    assert remote.data.keys() == agent.data.keys()
    assert remote.changed == agent.changed
    for key in ("files", "bytes", "directories", "skipped_special", "error_count"):
        assert remote.data[key] == agent.data[key], key
    assert (
        remote.evidence.before.popitem()[1]["files"] == agent.evidence.before.popitem()[1]["files"]
    )


def test_disk_cleanup_of_nothing_usable_is_not_found(tmp_path: Path) -> None:
    given = params.DiskCleanup(paths=[str(tmp_path / "absent")])
    got = ACTIONS["disk.cleanup"](given, local_context())
    assert got.error is not None and got.error.code == "not_found"


@pytest.fixture
def sleeper() -> Any:
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


def test_process_list_shapes_and_filter(sleeper: subprocess.Popen[bytes]) -> None:
    got = ACTIONS["process.list"](params.ProcessList(name="sleep", limit=1000), local_context())
    agent = IMPLEMENTATIONS["process.list"](params.ProcessList(limit=1), ActionContext())
    mine = [p for p in got.data["processes"] if p["pid"] == sleeper.pid]
    assert mine and mine[0]["name"] == "sleep" and mine[0]["cmdline"] == "sleep 300"
    assert mine[0].keys() == agent.data["processes"][0].keys()
    assert abs(mine[0]["started"] - time.time()) < 60


def test_process_kill_signals_and_waits(sleeper: subprocess.Popen[bytes]) -> None:
    given = params.ProcessKill(pid=sleeper.pid)
    dry = ACTIONS["process.kill"](given, local_context(dry_run=True))
    assert dry.ok and not dry.changed and sleeper.poll() is None
    done = ACTIONS["process.kill"](given, local_context())
    assert done.changed and done.evidence.after == {"signalled": [sleeper.pid], "still_running": []}
    assert sleeper.wait(timeout=5) == -15


def test_process_kill_refuses_the_session_and_unknown_pids() -> None:
    for pid in (os.getpid(), os.getppid()):  # the test runner is the "session" here
        got = ACTIONS["process.kill"](params.ProcessKill(pid=pid), local_context())
        assert got.error is not None and got.error.code == "policy_denied"
    got = ACTIONS["process.kill"](params.ProcessKill(name="no-such-prog"), local_context())
    assert got.error is not None and got.error.code == "not_found"


@pytest.mark.parametrize("dry_run", [True, False])
def test_log_rotate_matches_the_agent(tmp_path: Path, dry_run: bool) -> None:
    results = {}
    for who in ("remote", "agents"):
        log = tmp_path / who / "app.log"
        log.parent.mkdir()
        for name, text in (("app.log", "now"), ("app.log.1", "one"), ("app.log.2", "two")):
            (log.parent / name).write_text(text)
        log.chmod(0o640)
        given = params.LogRotate(path=str(log), keep=2)
        if who == "remote":
            result = ACTIONS["log.rotate"](given, local_context(dry_run=dry_run))
        else:
            result = IMPLEMENTATIONS["log.rotate"](given, ActionContext(dry_run=dry_run))
        contents = {p.name: p.read_text() for p in log.parent.iterdir()}
        results[who] = (result, contents, log.stat().st_mode & 0o777)
    (remote, remote_files, remote_mode), (agent, agent_files, agent_mode) = results.values()
    assert remote_files == agent_files and remote_mode == agent_mode == 0o640
    assert remote.data.keys() == agent.data.keys() and remote.changed == agent.changed
    if not dry_run:
        assert remote_files == {"app.log": "", "app.log.1": "now", "app.log.2": "one"}
    strip = str(tmp_path / "remote")
    assert [s.replace(strip, "") for s in remote.output.splitlines()] == [
        s.replace(str(tmp_path / "agents"), "") for s in agent.output.splitlines()
    ]
