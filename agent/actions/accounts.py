"""user.unlock and user.reset_password for local accounts.

Linux (shadow-utils, pam_faillock) is here; Windows and macOS have their commands and
parsers in accounts_other. One flow serves all three: read the account, work out what
keeps it out, clear each of those, read it again. Error codes besides the usual ones:
``still_locked`` (every command succeeded, yet the account reads as locked afterwards)
and ``password_rejected`` (the machine's password policy refused the new password).

The new password travels on a command's standard input, never in an argument list where
any user could read it, and it appears nowhere in the result.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.actions import accounts_other as other
from agent.actions.accounts_other import AccountError
from agent.actions.context import ActionContext
from catalogue import ActionResult, Evidence
from catalogue.probes import shadow

Run = subprocess.CompletedProcess[str]


def linux_status(username: str, ctx: ActionContext) -> dict[str, Any]:
    shown = ctx.run(["passwd", "-S", "--", username])
    status = shadow.parse_passwd_status(username, shown.stdout)
    if shown.returncode != 0 or status is None:
        raise AccountError("not_found", f"no local account named {username}")
    if shutil.which("faillock"):
        tally = ctx.run(["faillock", "--user", username])
        status["failed_logins"] = shadow.count_failures(tally.stdout)
    return status


def linux_clear(lock: str, username: str, ctx: ActionContext) -> Run:
    if lock == "password":
        return ctx.run(["usermod", "--unlock", "--", username])
    return ctx.run(["faillock", "--user", username, "--reset"])


def linux_set_password(username: str, password: str, ctx: ActionContext) -> Run:
    return ctx.run(["chpasswd"], stdin=f"{username}:{password}\n")


def command_failure(done: Run) -> tuple[str, str]:
    return "command_failed", done.stderr.strip()[:500] or f"{done.args[0]} exited {done.returncode}"


def _no_refusal(status: dict[str, Any], locks: list[str]) -> str | None:
    return None


@dataclass(frozen=True)
class Platform:
    """How one system reads a local account, clears what keeps it out, sets its password."""

    status: Callable[[str, ActionContext], dict[str, Any]]
    locks: Callable[[dict[str, Any]], list[str]]  # what keeps it out, in clearing order
    lock_names: dict[str, str]
    clear: Callable[[str, str, ActionContext], Run]
    set_password: Callable[[str, str, ActionContext], Run] | None
    failure: Callable[[Run], tuple[str, str]] = command_failure
    refusal: Callable[[dict[str, Any], list[str]], str | None] = _no_refusal
    no_reset: str = ""


LINUX = Platform(
    status=linux_status,
    locks=shadow.locks,
    lock_names=shadow.LOCK_NAMES,
    clear=linux_clear,
    set_password=linux_set_password,
)
WINDOWS = Platform(
    status=other.windows_status,
    locks=other.windows_locks,
    lock_names=other.WINDOWS_LOCKS,
    clear=other.windows_clear,
    set_password=other.windows_set_password,
    failure=other.windows_failure,
    refusal=other.windows_refusal,
)
MACOS = Platform(
    status=other.macos_status,
    locks=other.macos_locks,
    lock_names=other.MACOS_LOCKS,
    clear=other.macos_clear,
    set_password=None,
    refusal=other.macos_refusal,
    no_reset=other.MACOS_NO_RESET,
)


def _platform() -> Platform | ActionResult:
    if sys.platform == "win32":
        return WINDOWS
    if sys.platform == "darwin":
        return MACOS
    if sys.platform.startswith("linux"):
        return LINUX
    return ActionResult.failure(
        "not_supported", f"local accounts on {sys.platform} are not handled yet"
    )


def _names(platform: Platform, locks: list[str]) -> str:
    return ", ".join(platform.lock_names[lock] for lock in locks)


def _status_after(platform: Platform, username: str, ctx: ActionContext) -> Any:
    try:
        return platform.status(username, ctx)
    except AccountError as exc:
        return {"error": exc.code, "message": exc.message}


def unlock(params: Any, ctx: ActionContext) -> ActionResult:
    platform = _platform()
    if isinstance(platform, ActionResult):
        return platform
    username = params.username
    try:
        before = platform.status(username, ctx)
    except AccountError as exc:
        return ActionResult.failure(exc.code, exc.message)
    locks = platform.locks(before)
    if not locks:
        return ActionResult(
            output=f"{username} is not locked", evidence=Evidence(before=before, after=before)
        )
    if (refused := platform.refusal(before, locks)) is not None:
        return ActionResult.failure("policy_denied", refused, evidence=Evidence(before=before))
    if ctx.dry_run:
        return ActionResult(
            output=f"would unlock {username}: {_names(platform, locks)}",
            evidence=Evidence(before=before),
        )
    cleared: list[str] = []
    for lock in locks:
        done = platform.clear(lock, username, ctx)
        if done.returncode != 0:
            code, message = platform.failure(done)
            return ActionResult.failure(
                code,
                f"clearing {platform.lock_names[lock]} failed: {message}",
                changed=bool(cleared),
                evidence=Evidence(before=before, after=_status_after(platform, username, ctx)),
            )
        cleared.append(lock)
    after = _status_after(platform, username, ctx)
    evidence = Evidence(before=before, after=after)
    if "error" in after:
        return ActionResult.failure(
            after["error"],
            f"cleared {_names(platform, cleared)}, then could not read {username} back: "
            + after["message"],
            changed=True,
            evidence=evidence,
        )
    if left := platform.locks(after):
        why = after.get("policy") or _names(platform, left)
        return ActionResult.failure(
            "still_locked", f"{username} is still locked: {why}", changed=True, evidence=evidence
        )
    return ActionResult(
        changed=True, output=f"{username}: cleared {_names(platform, cleared)}", evidence=evidence
    )


def _scrub(text: str, password: str) -> str:
    """Whatever a tool prints goes into the result without the password in any form sent."""
    encoded = base64.b64encode(password.encode("utf-8")).decode("ascii")
    return text.replace(password, "[password]").replace(encoded, "[password]")


def reset_password(params: Any, ctx: ActionContext) -> ActionResult:
    platform = _platform()
    if isinstance(platform, ActionResult):
        return platform
    if platform.set_password is None:
        return ActionResult.failure("not_supported", platform.no_reset)
    username = params.username
    try:
        before = platform.status(username, ctx)
    except AccountError as exc:
        return ActionResult.failure(exc.code, exc.message)
    if ctx.dry_run:
        return ActionResult(
            output=f"would set a new password for {username}", evidence=Evidence(before=before)
        )
    done = platform.set_password(username, params.password, ctx)
    if done.returncode != 0:
        code, message = platform.failure(done)
        return ActionResult.failure(
            code, _scrub(message, params.password), evidence=Evidence(before=before)
        )
    return ActionResult(
        changed=True,
        output=f"new password set for {username}",
        evidence=Evidence(before=before, after=_status_after(platform, username, ctx)),
    )


ACTIONS = {"user.unlock": unlock, "user.reset_password": reset_password}
