"""hosts.set, dns.flush and print.clear_queue: the name and printing fixes a help desk does."""

from __future__ import annotations

import contextlib
import difflib
import errno
import ipaddress
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import psutil

from agent.actions.context import ActionContext, Stopped
from catalogue import ActionResult, Evidence
from catalogue.result import bounded

if sys.platform == "win32":
    HOSTS_FILE = os.path.join(
        os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", "drivers", "etc", "hosts"
    )
else:
    HOSTS_FILE = "/etc/hosts"
NEW_HOSTS_MODE = 0o644  # when there was no hosts file at all

# --- hosts.set --------------------------------------------------------------------------

_TOKEN = re.compile(rb"\S+")


def _split(line: bytes) -> tuple[bytes, bytes]:
    """(the line without its end, the end): b'\\r\\n', b'\\n', b'\\r' or b''."""
    body = line.rstrip(b"\r\n")
    return body, line[len(body) :]


def _tokens(body: bytes) -> list[re.Match[bytes]]:
    """The address and names of an entry line (the part before any '#')."""
    return list(_TOKEN.finditer(body.split(b"#", 1)[0]))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _same_address(token: bytes, address: str) -> bool:
    try:
        return ipaddress.ip_address(token.decode("ascii")) == ipaddress.ip_address(address)
    except (UnicodeDecodeError, ValueError):
        return False


def _names(tokens: list[re.Match[bytes]], hostname: bytes) -> list[re.Match[bytes]]:
    # Host names are case-insensitive; the resolver matches them that way too.
    return [t for t in tokens[1:] if t.group().lower() == hostname]


def _without(line: bytes, hostname: bytes) -> bytes | None:
    """The line with hostname taken out of its names; None when no name would remain."""
    body, end = _split(line)
    tokens = _tokens(body)
    drop = _names(tokens, hostname)
    if len(drop) == len(tokens) - 1:
        return None
    # Cut each name with the blank before it, so the rest of the line keeps its layout.
    for token in reversed(drop):
        previous = tokens[tokens.index(token) - 1]
        body = body[: previous.end()] + body[token.end() :]
    return body + end


def edit_hosts(content: bytes, hostname: str, address: str | None) -> bytes:
    """content with hostname resolving to address only (or to nothing, when None)."""
    name = hostname.lower().encode("ascii")
    lines = content.splitlines(keepends=True)
    holding = [i for i, line in enumerate(lines) if _names(_tokens(_split(line)[0]), name)]
    keep: int | None = None
    if address is not None:
        # Already right somewhere: keep that line. Else repoint a line naming only this
        # host, in place, so its position and comment stay.
        right = [i for i in holding if _same_address(_tokens(lines[i])[0].group(), address)]
        sole = [i for i in holding if len(_tokens(_split(lines[i])[0])) == 2]
        if right:
            keep = right[0]
        elif sole:
            keep = sole[0]
            first = _tokens(lines[keep])[0]
            line = lines[keep]
            lines[keep] = line[: first.start()] + address.encode() + line[first.end() :]
    result: list[bytes] = []
    for i, line in enumerate(lines):
        if i in holding and i != keep:
            edited = _without(line, name)
            if edited is not None:
                result.append(edited)
        else:
            result.append(line)
    if address is not None and keep is None:
        end = b"\r\n" if b"\r\n" in content else b"\n"
        if result and not _split(result[-1])[1]:
            result[-1] += end
        result.append(address.encode() + b"\t" + hostname.encode("ascii") + end)
    return b"".join(result)


def _entries(content: bytes, hostname: str) -> list[str]:
    """The entry lines that name hostname: the before/after a ticket shows."""
    name = hostname.lower().encode("ascii")
    return [
        line.decode("utf-8", "replace").strip()
        for line in content.splitlines()
        if _names(_tokens(line), name)
    ]


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


def flush_commands(
    platform: str,
    which: Callable[[str], str | None] = shutil.which,
    running: Callable[[str], bool] = _running,
) -> list[list[str]]:
    """The commands that flush this machine's resolver caches; [] when it has none."""
    if platform == "win32":
        return [["ipconfig", "/flushdns"]]
    if platform == "darwin":
        return [["dscacheutil", "-flushcache"], ["killall", "-HUP", "mDNSResponder"]]
    commands = []
    if running("systemd-resolved"):
        if which("resolvectl"):
            commands.append(["resolvectl", "flush-caches"])
        elif which("systemd-resolve"):  # before systemd 239
            commands.append(["systemd-resolve", "--flush-caches"])
    if running("nscd") and which("nscd"):
        commands.append(["nscd", "-i", "hosts"])
    return commands


def dns_flush(params: Any, ctx: ActionContext) -> ActionResult:
    commands = flush_commands(sys.platform)
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

# lpstat -o prints "%-23s %-13s %8.0f   %c": queue-jobid, user, bytes, date. A queue name
# has no blanks, '/' or '#'; one starting with '-' would read as an option to cancel.
_JOB = re.compile(
    r"(?P<id>(?P<queue>[^\s/#-][^\s/#]*)-(?P<number>\d+))\s+(?P<user>\S+)\s+"
    r"(?P<size>\d+)\s+(?P<submitted>\S.*?)\s*"
)
CANCEL_BATCH = 100  # job ids per cancel command


def parse_lpstat_jobs(text: str) -> list[dict[str, Any]]:
    """Jobs from `lpstat -o` output; lines that are not jobs are ignored."""
    jobs = []
    for line in text.splitlines():
        match = _JOB.fullmatch(line)
        if match:
            jobs.append(
                {
                    "id": match["id"],
                    "queue": match["queue"],
                    "number": int(match["number"]),
                    "user": match["user"],
                    "size": int(match["size"]),
                    "submitted": match["submitted"],
                }
            )
    return jobs


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
