"""What the posix actions share: the endpoint's facts, and files read and written remotely.

Every command is an argument list. Where a redirection is unavoidable (writing stdin to a
file), the shell gets a constant script and the path as a positional parameter ("$1"), so
nothing taken from the parameters is ever parsed as shell text.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from dataclasses import dataclass
from typing import Any

from catalogue import ActionResult
from controller.transports.base import Completed, RemoteContext

NOT_FOUND = 127  # the exit status of a command the shell cannot find
_WRITE_STDIN = 'base64 -d > "$1"'  # constant: decodes stdin into the file named by $1
# stat(1) format: one tab-separated record (tabs cannot occur in user or group names).
_STAT_FORMAT = "\t".join(["%F", "%s", "%a", "%u", "%g", "%U", "%G", "%.9Y", "%.9Z", "%d"])
_KINDS = {"regular file": "file", "regular empty file": "file", "directory": "dir"}


class Refused(Exception):
    """A failure with its ActionResult code, raised from a helper deep inside an action."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def result(self, **extra: Any) -> ActionResult:
        return ActionResult.failure(self.code, str(self), **extra)


def said(done: Completed) -> str:
    """What a failed command said, for a message."""
    return (done.stderr or done.stdout).strip()[:500] or f"exit status {done.returncode}"


def has_command(ctx: RemoteContext, name: str) -> bool:
    """Whether the endpoint has a command, asked once per target."""
    known: dict[str, bool] = ctx.facts.setdefault("commands", {})
    if name not in known:
        found = ctx.run(["sh", "-c", 'command -v "$1"', "sh", name], timeout=15)
        known[name] = found.returncode == 0 and bool(found.stdout.strip())
    return known[name]


def platform(ctx: RemoteContext) -> str:
    """The endpoint's OS as a sys.platform value ("linux", "darwin"), asked once."""
    if "platform" not in ctx.facts:
        kernel = ctx.run(["uname", "-s"], timeout=15).stdout.strip().lower()
        ctx.facts["platform"] = kernel if kernel in ("linux", "darwin") else kernel or "unknown"
    return str(ctx.facts["platform"])


def uid(ctx: RemoteContext) -> int:
    """The uid actions run as on the endpoint (0 under sudo), asked once."""
    if "uid" not in ctx.facts:
        ctx.facts["uid"] = int(ctx.run(["id", "-u"], timeout=15).stdout.strip() or -1)
    return int(ctx.facts["uid"])


@dataclass(frozen=True)
class Stat:
    """lstat(2) of a remote path, as stat(1) prints it."""

    kind: str  # file | dir | symlink | other
    size: int
    mode: int
    uid: int
    gid: int
    owner: str | None
    group: str | None
    mtime: float
    ctime: float
    dev: int


def refusal(path: str, done: Completed) -> Refused:
    """The Refused for a command that could not examine or read path."""
    message = said(done)
    if "No such file" in message or "Not a directory" in message:
        return Refused("not_found", f"{path} does not exist")
    if "Permission denied" in message:
        return Refused("permission_denied", f"cannot read {path}")
    return Refused("failed", f"{path}: {message}")


def lstat(ctx: RemoteContext, path: str) -> Stat:
    """The path itself (a link is not followed); Refused when it cannot be examined."""
    done = ctx.run(["stat", "-c", _STAT_FORMAT, "--", path], timeout=30)
    fields = done.stdout.rstrip("\n").split("\t")
    if done.returncode != 0 or len(fields) != 10:
        raise refusal(path, done)
    kind = "symlink" if fields[0] == "symbolic link" else _KINDS.get(fields[0], "other")
    return Stat(
        kind=kind,
        size=int(fields[1]),
        mode=int(fields[2], 8),
        uid=int(fields[3]),
        gid=int(fields[4]),
        owner=None if fields[5] == "UNKNOWN" else fields[5],
        group=None if fields[6] == "UNKNOWN" else fields[6],
        mtime=float(fields[7]),
        ctime=float(fields[8]),
        dev=int(fields[9]),
    )


def examine(ctx: RemoteContext, path: str, kind: str, what: str) -> Stat:
    """path when it is a `kind` and not a link, as the agent insists; else Refused."""
    st = lstat(ctx, path)
    if st.kind == "symlink":
        target = ctx.run(["realpath", "--", path], timeout=30).stdout.strip()
        raise Refused(
            "invalid_params", f"{path} is a symbolic link; give what it points to ({target})"
        )
    if st.kind != kind:
        raise Refused("invalid_params", f"{path} is not {what}")
    return st


def read_bytes(ctx: RemoteContext, path: str) -> bytes:
    """The file's exact bytes (base64 on the wire: the channel carries text)."""
    done = ctx.run(["base64", "--", path], timeout=60)
    if done.returncode != 0:
        raise refusal(path, done)
    return base64.b64decode(done.stdout)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def write_new(ctx: RemoteContext, path: str, content: bytes) -> None:
    """Write content to path (created or truncated) from stdin."""
    encoded = base64.b64encode(content).decode("ascii")
    done = ctx.run(["sh", "-c", _WRITE_STDIN, "sh", path], stdin=encoded, timeout=60)
    if done.returncode != 0:
        raise Refused("failed", f"cannot write {path}: {said(done)}")


def replace(
    ctx: RemoteContext, path: str, content: bytes, like: Stat | None, expected: str | None
) -> None:
    """Replace path with content in one rename, with like's mode and owner.

    expected, when given, is the sha256 the file must still have just before the rename:
    an edit someone made meanwhile is not overwritten. A file that cannot be replaced (a
    container's bind-mounted /etc/hosts) is rewritten in place instead.
    """
    directory, name = posixpath.split(path)
    made = ctx.run(["mktemp", f"--tmpdir={directory}", f".{name}.XXXXXXXX"], timeout=30)
    if made.returncode != 0:
        raise Refused("failed", f"cannot create a file next to {path}: {said(made)}")
    temp = made.stdout.strip()
    try:
        write_new(ctx, temp, content)
        mode = format(like.mode if like else 0o644, "o")
        _check(ctx.run(["chmod", mode, "--", temp], timeout=30), "chmod")
        if like is not None:
            owned = ctx.run(["chown", f"{like.uid}:{like.gid}", "--", temp], timeout=30)
            if owned.returncode != 0:
                message = f"cannot give the new {path} its owner {like.uid}:{like.gid}"
                raise Refused("permission_denied", message)
        if expected is not None and sha256(read_bytes(ctx, path)) != expected:
            raise Refused("conflict", f"{path} changed while it was being edited")
        moved = ctx.run(["mv", "-f", "-T", "--", temp, path], timeout=30)
        if moved.returncode != 0:
            if "busy" not in said(moved).lower():
                raise Refused("failed", f"cannot replace {path}: {said(moved)}")
            write_new(ctx, path, content)
    finally:
        ctx.run(["rm", "-f", "--", temp], timeout=30)


def _check(done: Completed, what: str) -> None:
    if done.returncode != 0:
        raise Refused("failed", f"{what}: {said(done)}")
