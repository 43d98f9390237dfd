"""user.unlock and user.reset_password for local Linux accounts (shadow-utils, faillock).

The new password goes to chpasswd on standard input, never in an argument list, and
appears nowhere in the result.
"""

from __future__ import annotations

from typing import Any

from catalogue import ActionResult, Evidence
from catalogue.probes import shadow
from controller.transports.base import RemoteContext
from controller.transports.posix.common import Refused, has_command, platform, said


def account(ctx: RemoteContext, username: str) -> dict[str, Any]:
    shown = ctx.run(["passwd", "-S", "--", username], timeout=30)
    found = shadow.parse_passwd_status(username, shown.stdout)
    if shown.returncode != 0 or found is None:
        raise Refused("not_found", f"no local account named {username}")
    if has_command(ctx, "faillock"):
        tally = ctx.run(["faillock", "--user", username], timeout=30)
        found["failed_logins"] = shadow.count_failures(tally.stdout)
    return found


def _clear(ctx: RemoteContext, lock: str, username: str) -> None:
    if lock == "password":
        done = ctx.run(["usermod", "--unlock", "--", username], timeout=60)
    else:
        done = ctx.run(["faillock", "--user", username, "--reset"], timeout=60)
    if done.returncode != 0:
        raise Refused("command_failed", f"clearing {shadow.LOCK_NAMES[lock]} failed: {said(done)}")


def _named(locks: list[str]) -> str:
    return ", ".join(shadow.LOCK_NAMES[lock] for lock in locks)


def _before(ctx: RemoteContext, username: str) -> dict[str, Any] | ActionResult:
    """The account as it is, or why the action stops here (not Linux, no such account)."""
    if platform(ctx) != "linux":
        return ActionResult.failure("not_supported", f"local accounts on {platform(ctx)} over ssh")
    try:
        return account(ctx, username)
    except Refused as exc:
        return exc.result()


def unlock(params: Any, ctx: RemoteContext) -> ActionResult:
    username = params.username
    before = _before(ctx, username)
    if isinstance(before, ActionResult):
        return before
    locks = shadow.locks(before)
    if not locks:
        evidence = Evidence(before=before, after=before)
        return ActionResult(output=f"{username} is not locked", evidence=evidence)
    if ctx.dry_run:
        output = f"would unlock {username}: {_named(locks)}"
        return ActionResult(output=output, evidence=Evidence(before=before))
    cleared: list[str] = []
    try:
        for lock in locks:
            _clear(ctx, lock, username)
            cleared.append(lock)
        after = account(ctx, username)
    except Refused as exc:
        return exc.result(changed=bool(cleared), evidence=Evidence(before=before))
    evidence = Evidence(before=before, after=after)
    if left := shadow.locks(after):
        message = f"{username} is still locked: {_named(left)}"
        return ActionResult.failure("still_locked", message, changed=True, evidence=evidence)
    output = f"{username}: cleared {_named(cleared)}"
    return ActionResult(changed=True, output=output, evidence=evidence)


def reset_password(params: Any, ctx: RemoteContext) -> ActionResult:
    username = params.username
    before = _before(ctx, username)
    if isinstance(before, ActionResult):
        return before
    if ctx.dry_run:
        output = f"would set a new password for {username}"
        return ActionResult(output=output, evidence=Evidence(before=before))
    done = ctx.run(["chpasswd"], stdin=f"{username}:{params.password}\n", timeout=60)
    if done.returncode != 0:
        message = said(done).replace(params.password, "[password]")
        return ActionResult.failure("command_failed", message, evidence=Evidence(before=before))
    after = account(ctx, username)
    output = f"new password set for {username}"
    return ActionResult(changed=True, output=output, evidence=Evidence(before=before, after=after))


ACTIONS = {"user.unlock": unlock, "user.reset_password": reset_password}
