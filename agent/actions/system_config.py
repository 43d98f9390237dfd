"""hosts.set, dns.flush and print.clear_queue: the name and printing fixes a help desk does."""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import shutil
import stat
import sys
import tempfile
from typing import Any

import psutil

from agent.actions.context import ActionContext, Stopped
from catalogue import ActionResult, Evidence
from catalogue.probes.cups import parse_lpstat_jobs
from catalogue.probes.hosts_file import edit_hosts
from catalogue.probes.hosts_file import entries as _entries
from catalogue.probes.hosts_file import is_address as _is_address
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


def _diff(path: str, old: bytes, new: bytes) -> str:
    lines = difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(),
        new.decode("utf-8", "replace").splitlines(),
        fromfile=path,
        tofile=path,
        lineterm="",
    )
    return "\n".join(lines)


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
    # The catalogue's Host type takes names and addresses alike; here each has one role.
    if _is_address(hostname):
        return ActionResult.failure("invalid_params", f"{hostname} is an address, not a name")
    if address is not None and not _is_address(address):
        message = f"{address} is not an IP address; a hosts file maps names to addresses"
        return ActionResult.failure("invalid_params", message)
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
    new = edit_hosts(old, hostname, address)
    diff = _diff(path, old, new)
    before, after = _entries(old, hostname), _entries(new, hostname)
    data = {"path": path, "hostname": hostname, "address": address, "diff": diff}
    evidence = Evidence(before=before, after=after)
    target = f"{hostname} -> {address}" if address else f"no entry for {hostname}"
    if new == old:
        return ActionResult(output=f"{path} already has {target}", data=data, evidence=evidence)
    if ctx.dry_run:
        return ActionResult(
            output=bounded(f"would change {path} to {target}:\n{diff}"),
            data=data,
            evidence=evidence,
        )
    try:
        _write_atomic(path, new, like)
    except OSError as exc:
        return ActionResult.failure("failed", f"cannot write {path}: {exc}", data=data)
    return ActionResult(
        changed=True,
        output=bounded(f"{path} now has {target}:\n{diff}"),
        data=data,
        evidence=evidence,
    )


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
CANCEL_BATCH = 100  # job ids per cancel command


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
    lines = [f"{j['id']}  {j['user']}  {j['size']} bytes  {j['submitted']}" for j in jobs]
    if not jobs:
        return ActionResult(output=f"no jobs waiting in {queue}", data={"jobs": []})
    if ctx.dry_run:
        output = f"would cancel {len(jobs)} jobs in {queue}:\n" + "\n".join(lines)
        return ActionResult(output=bounded(output), data={"jobs": jobs})
    # Cancel exactly the jobs listed (not `cancel -a`), so a job sent in the meantime is
    # left alone and the evidence matches what was done.
    ids = [j["id"] for j in jobs]
    jobs_by_id = set(ids)
    complaints = []
    try:
        for start in range(0, len(ids), CANCEL_BATCH):
            done = ctx.run(["cancel", *ids[start : start + CANCEL_BATCH]], timeout=60)
            if done.returncode != 0:  # e.g. a job that finished meanwhile: judged below
                complaints.append((done.stderr or done.stdout).strip())
        remaining_jobs = _list_jobs(params.printer, ctx)
    except (OSError, Stopped) as exc:
        return ActionResult.failure("failed", f"cancel: {exc}", data={"jobs": jobs})
    if isinstance(remaining_jobs, ActionResult):
        return remaining_jobs
    remaining = [j for j in remaining_jobs if j["id"] in jobs_by_id]
    evidence = Evidence(before=ids, after=[j["id"] for j in remaining_jobs])
    data = {"jobs": jobs, "remaining": remaining, "messages": complaints}
    cancelled = len(ids) - len(remaining)
    if remaining:
        message = f"{len(remaining)} of {len(ids)} jobs still queued: " + "; ".join(complaints)
        return ActionResult.failure(
            "failed", bounded(message), changed=cancelled > 0, data=data, evidence=evidence
        )
    output = f"cancelled {cancelled} jobs in {queue}:\n" + "\n".join(lines)
    return ActionResult(changed=True, output=bounded(output), data=data, evidence=evidence)


ACTIONS = {"hosts.set": hosts_set, "dns.flush": dns_flush, "print.clear_queue": print_clear_queue}
