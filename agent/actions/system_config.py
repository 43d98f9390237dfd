"""hosts.set, dns.flush and print.clear_queue: the name and printing fixes a help desk does."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import tempfile
from typing import Any

import psutil

from agent.actions.context import ActionContext, Stopped
from catalogue import ActionResult
from catalogue.outcomes.system import (
    CANCEL_BATCH,
    HostsEdit,
    hosts_refusal,
    queue_cleared,
    queue_untouched,
)
from catalogue.probes.cups import parse_lpstat_jobs
from catalogue.probes.resolver import flush_commands
from catalogue.result import bounded

if sys.platform == "win32":
    HOSTS_FILE = os.path.join(
        os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", "drivers", "etc", "hosts"
    )
else:
    HOSTS_FILE = "/etc/hosts"
NEW_HOSTS_MODE = 0o644  # when there was no hosts file at all

# --- hosts.set --------------------------------------------------------------------------


def _write_atomic(path: str, content: bytes, like: os.stat_result | None) -> None:
    """Replace path with content in one step: readers see the old file or the new one."""
    fd, temp = tempfile.mkstemp(prefix=".hosts.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, stat.S_IMODE(like.st_mode) if like else NEW_HOSTS_MODE)
        if like is not None and sys.platform != "win32":
            with contextlib.suppress(PermissionError):  # not root: it stays ours
                os.chown(temp, like.st_uid, like.st_gid)
        try:
            os.replace(temp, path)
        except OSError as exc:
            # In a container /etc/hosts is a bind mount: it cannot be replaced, only
            # rewritten where it is.
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            with open(path, "r+b") as f:
                f.write(content)
                f.truncate()
                f.flush()
                os.fsync(f.fileno())
            os.unlink(temp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if sys.platform != "win32":  # the rename itself is durable once the directory is synced
        dir_fd = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def hosts_set(params: Any, ctx: ActionContext) -> ActionResult:
    hostname, address = params.hostname, params.address
    if (refusal := hosts_refusal(hostname, address)) is not None:
        return refusal
    # Edit the file a link points to, so the link (some systems manage /etc/hosts) stays.
    path = os.path.realpath(HOSTS_FILE)
    try:
        with open(path, "rb") as f:
            like: os.stat_result | None = os.fstat(f.fileno())
            old = f.read()
    except FileNotFoundError:
        like, old = None, b""
    except PermissionError:
        return ActionResult.failure("permission_denied", f"cannot read {path}")
    edit = HostsEdit.of(path, old, hostname, address)
    if (answer := edit.without_writing(ctx.dry_run)) is not None:
        return answer
    try:
        _write_atomic(path, edit.new, like)
    except OSError as exc:
        return edit.write_failed(exc)
    return edit.written()


# --- dns.flush --------------------------------------------------------------------------


def _running(prefix: str) -> bool:
    # Linux shows at most 15 characters of a name: systemd-resolved is "systemd-resolve".
    prefix = prefix[:15]
    for proc in psutil.process_iter(["name"]):
        if (proc.info.get("name") or "").startswith(prefix):
            return True
    return False


def dns_flush(params: Any, ctx: ActionContext) -> ActionResult:
    commands = flush_commands(sys.platform, shutil.which, _running)
    if not commands:
        return ActionResult.failure("not_supported", "no resolver cache found on this machine")
    shown = [" ".join(argv) for argv in commands]
    if ctx.dry_run:
        return ActionResult(output="would run: " + "; ".join(shown), data={"commands": shown})
    results: list[dict[str, Any]] = []
    for argv in commands:
        try:
            done = ctx.run(argv, timeout=30)
        except (OSError, Stopped) as exc:
            return ActionResult.failure("failed", f"{argv[0]}: {exc}", data={"done": results})
        results.append({"command": " ".join(argv), "exit": done.returncode})
        if done.returncode != 0:
            message = f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()}"
            return ActionResult.failure("failed", bounded(message), data={"done": results})
    return ActionResult(changed=True, output="ran: " + "; ".join(shown), data={"done": results})


# --- print.clear_queue ------------------------------------------------------------------


def _list_jobs(printer: str | None, ctx: ActionContext) -> list[dict[str, Any]] | ActionResult:
    listed = ctx.run(["lpstat", "-o", *([printer] if printer else [])], timeout=30)
    if listed.returncode != 0:
        message = (listed.stderr or listed.stdout).strip() or f"lpstat exit {listed.returncode}"
        if printer and "destination" in message.lower():  # "Invalid destination name ..."
            return ActionResult.failure("not_found", f"no printer queue named {printer}")
        return ActionResult.failure("failed", bounded(message))
    return parse_lpstat_jobs(listed.stdout)


def print_clear_queue(params: Any, ctx: ActionContext) -> ActionResult:
    if sys.platform == "win32" or not (shutil.which("lpstat") and shutil.which("cancel")):
        return ActionResult.failure("not_supported", "CUPS is not installed on this machine")
    queue = params.printer or "every queue"
    try:
        jobs = _list_jobs(params.printer, ctx)
    except (OSError, Stopped) as exc:
        return ActionResult.failure("failed", f"lpstat: {exc}")
    if isinstance(jobs, ActionResult):
        return jobs
    if (answer := queue_untouched(queue, jobs, ctx.dry_run)) is not None:
        return answer
    ids = [j["id"] for j in jobs]
    complaints = []
    try:
        for start in range(0, len(ids), CANCEL_BATCH):
            done = ctx.run(["cancel", *ids[start : start + CANCEL_BATCH]], timeout=60)
            if done.returncode != 0:  # e.g. a job that finished meanwhile: judged below
                complaints.append((done.stderr or done.stdout).strip())
        left = _list_jobs(params.printer, ctx)
    except (OSError, Stopped) as exc:
        return ActionResult.failure("failed", f"cancel: {exc}", data={"jobs": jobs})
    if isinstance(left, ActionResult):
        return left
    return queue_cleared(queue, jobs, left, complaints)


ACTIONS = {"hosts.set": hosts_set, "dns.flush": dns_flush, "print.clear_queue": print_clear_queue}
