"""time.sync and system.reboot: the two that act on the whole machine.

Neither can be exercised for real in a test (one moves the clock of the machine running
it, the other restarts it), so their tests cover dry-run and the commands they choose.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any

from agent.actions.certs_time import NTP_PORT, time_check
from agent.actions.context import ActionContext
from catalogue import ActionResult, Evidence
from catalogue.fields import split_host_port
from catalogue.probes.shutdown import reboot_argv


def system_reboot(params: Any, ctx: ActionContext) -> ActionResult:
    argv = reboot_argv(params.delay_s, params.message)
    if shutil.which(argv[0]) is None:
        return ActionResult.failure("not_supported", "no shutdown command on this machine")
    if ctx.dry_run:
        return ActionResult(output="would run: " + " ".join(argv), data={"argv": argv})
    done = ctx.run(argv)
    if done.returncode != 0:
        return ActionResult.failure(
            "command_failed", done.stderr.strip() or "shutdown failed", data={"argv": argv}
        )
    return ActionResult(
        changed=True,
        output=(done.stdout + done.stderr).strip() or "reboot scheduled",
        data={"argv": argv},
    )


def sync_argv(server: str | None, platform: str = sys.platform) -> list[str] | None:
    """The command that steps the clock, by what the machine has."""
    if platform == "win32":
        return ["w32tm", "/resync", "/force"]
    if shutil.which("chronyc"):
        return ["chronyc", "-a", "makestep"]
    host, port = split_host_port(server) if server else (None, None)
    if port not in (None, NTP_PORT):  # sntp and ntpdate cannot be told another port
        return None
    if host and shutil.which("sntp"):
        return ["sntp", "-S", host]
    if host and shutil.which("ntpdate"):
        return ["ntpdate", "-b", host]
    return None


def _offset(params: Any, ctx: ActionContext) -> Any:
    """The clock's offset from the server, as time.check measures it (evidence)."""
    if not params.server:
        return None
    checked = time_check(params, ctx)
    return checked.data if checked.error is None else {"error": checked.error.message}


def time_sync(params: Any, ctx: ActionContext) -> ActionResult:
    before = _offset(params, ctx)
    argv = sync_argv(params.server)
    if argv is None:
        return ActionResult.failure(
            "not_supported",
            "cannot step the clock: no chronyc here, and no sntp or ntpdate with "
            f"a server on port {NTP_PORT} to ask",
            evidence=Evidence(before=before),
        )
    if ctx.dry_run:
        return ActionResult(
            output="would run: " + " ".join(argv),
            data={"argv": argv},
            evidence=Evidence(before=before),
        )
    done = ctx.run(argv, timeout=60, stream=True)
    after = _offset(params, ctx)
    if done.returncode != 0:
        return ActionResult.failure(
            "command_failed",
            done.stderr.strip() or f"{argv[0]} failed",
            evidence=Evidence(before=before, after=after),
        )
    return ActionResult(
        changed=True,
        output=(done.stdout + done.stderr).strip(),
        evidence=Evidence(before=before, after=after),
    )


ACTIONS = {"system.reboot": system_reboot, "time.sync": time_sync}
