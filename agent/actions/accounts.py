"""user.unlock and user.reset_password for local accounts (Linux: shadow-utils, pam_faillock).

The new password travels on chpasswd's standard input, never in an argument list where
any user could read it, and it appears nowhere in the result.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any

from agent.actions.context import ActionContext
from catalogue import ActionResult, Evidence

# passwd -S: NAME STATUS DATE MIN MAX WARN INACTIVE; STATUS is P (usable), L (locked), NP.
_STATUS = {"P": "usable", "L": "locked", "NP": "no password"}


def account_status(username: str, ctx: ActionContext) -> dict[str, Any] | None:
    shown = ctx.run(["passwd", "-S", "--", username])
    fields = shown.stdout.split()
    if shown.returncode != 0 or len(fields) < 3 or fields[0] != username:
        return None
    status: dict[str, Any] = {
        "username": username,
        "password_status": _STATUS.get(fields[1], fields[1]),
        "last_change": fields[2],
    }
    if shutil.which("faillock"):
        tally = ctx.run(["faillock", "--user", username])
        # One line per recorded failure after the header lines.
        status["failed_logins"] = sum(1 for line in tally.stdout.splitlines() if line[:4].isdigit())
    return status


def _password_locked(status: dict[str, Any]) -> bool:
    return bool(status["password_status"] == _STATUS["L"])


def _linux_only() -> ActionResult | None:
    if not sys.platform.startswith("linux"):
        return ActionResult.failure(
            "not_supported", f"local accounts on {sys.platform} are not handled yet"
        )
    return None


def unlock(params: Any, ctx: ActionContext) -> ActionResult:
    if (unsupported := _linux_only()) is not None:
        return unsupported
    before = account_status(params.username, ctx)
    if before is None:
        return ActionResult.failure("not_found", f"no local account named {params.username}")
    locked = _password_locked(before) or before.get("failed_logins", 0) > 0
    if not locked:
        return ActionResult(
            output=f"{params.username} is not locked",
            evidence=Evidence(before=before, after=before),
        )
    if ctx.dry_run:
        return ActionResult(
            output=f"would unlock {params.username}", evidence=Evidence(before=before)
        )
    steps = []
    if _password_locked(before):
        done = ctx.run(["usermod", "--unlock", "--", params.username])
        if done.returncode != 0:
            return ActionResult.failure(
                "command_failed",
                done.stderr.strip() or "usermod failed",
                evidence=Evidence(before=before),
            )
        steps.append("password unlocked")
    if before.get("failed_logins"):
        ctx.run(["faillock", "--user", params.username, "--reset"])
        steps.append("failed-login tally reset")
    after = account_status(params.username, ctx)
    return ActionResult(
        changed=True,
        output=f"{params.username}: " + ", ".join(steps),
        evidence=Evidence(before=before, after=after),
    )


def reset_password(params: Any, ctx: ActionContext) -> ActionResult:
    if (unsupported := _linux_only()) is not None:
        return unsupported
    before = account_status(params.username, ctx)
    if before is None:
        return ActionResult.failure("not_found", f"no local account named {params.username}")
    if ctx.dry_run:
        return ActionResult(
            output=f"would set a new password for {params.username}",
            evidence=Evidence(before=before),
        )
    done = ctx.run(["chpasswd"], stdin=f"{params.username}:{params.password}\n")
    if done.returncode != 0:
        # chpasswd's messages name the user, never the password.
        return ActionResult.failure(
            "command_failed",
            done.stderr.strip() or "chpasswd failed",
            evidence=Evidence(before=before),
        )
    after = account_status(params.username, ctx)
    return ActionResult(
        changed=True,
        output=f"new password set for {params.username}",
        evidence=Evidence(before=before, after=after),
    )


ACTIONS = {"user.unlock": unlock, "user.reset_password": reset_password}
