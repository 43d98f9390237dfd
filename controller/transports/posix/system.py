"""hosts.set, dns.flush, print.clear_queue and system.reboot on the endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from catalogue.probes.shutdown import reboot_argv
from catalogue.result import bounded
from controller.transports.base import RemoteContext
from controller.transports.posix.common import (
    Refused,
    Stat,
    has_command,
    lstat,
    platform,
    read_bytes,
    replace,
    said,
    sha256,
)

HOSTS_FILE = "/etc/hosts"

# --- hosts.set --------------------------------------------------------------------------


def hosts_set(params: Any, ctx: RemoteContext) -> ActionResult:
    hostname, address = params.hostname, params.address
    if (refusal := hosts_refusal(hostname, address)) is not None:
        return refusal
    # Edit the file a link points to, so the link (some systems manage /etc/hosts) stays.
    path = ctx.run(["realpath", "-m", "--", HOSTS_FILE], timeout=30).stdout.strip() or HOSTS_FILE
    like: Stat | None
    try:
        like, old = lstat(ctx, path), read_bytes(ctx, path)
    except Refused as exc:
        if exc.code != "not_found":
            return exc.result()
        like, old = None, b""
    edit = HostsEdit.of(path, old, hostname, address)
    if (answer := edit.without_writing(ctx.dry_run)) is not None:
        return answer
    try:
        replace(ctx, path, edit.new, like, sha256(old) if like else None)
    except Refused as exc:
        return edit.write_failed(exc)
    return edit.written()


# --- dns.flush --------------------------------------------------------------------------


def _running(ctx: RemoteContext) -> Callable[[str], bool]:
    """Whether a process whose name starts so runs on the endpoint (one ps for all)."""
    names = ctx.run(["ps", "-eo", "comm="], timeout=30).stdout.split()

    def running(prefix: str) -> bool:  # Linux shows 15 characters of a name
        return any(name.startswith(prefix[:15]) for name in names)

    return running


def dns_flush(params: Any, ctx: RemoteContext) -> ActionResult:
    commands = flush_commands(
        platform(ctx), lambda name: name if has_command(ctx, name) else None, _running(ctx)
    )
    if not commands:
        return ActionResult.failure("not_supported", "no resolver cache found on the endpoint")
    shown = [" ".join(argv) for argv in commands]
    if ctx.dry_run:
        return ActionResult(output="would run: " + "; ".join(shown), data={"commands": shown})
    results: list[dict[str, Any]] = []
    for argv in commands:
        done = ctx.run(argv, timeout=30)
        results.append({"command": " ".join(argv), "exit": done.returncode})
        if done.returncode != 0:
            message = bounded(f"{' '.join(argv)} failed: {said(done)}")
            return ActionResult.failure("failed", message, data={"done": results})
    return ActionResult(changed=True, output="ran: " + "; ".join(shown), data={"done": results})


# --- print.clear_queue ------------------------------------------------------------------


def _jobs(ctx: RemoteContext, printer: str | None) -> list[dict[str, Any]]:
    listed = ctx.run(["lpstat", "-o", *([printer] if printer else [])], timeout=30)
    if listed.returncode != 0:
        message = said(listed)
        if printer and "destination" in message.lower():  # "Invalid destination name ..."
            raise Refused("not_found", f"no printer queue named {printer}")
        raise Refused("failed", bounded(message))
    return parse_lpstat_jobs(listed.stdout)


def print_clear_queue(params: Any, ctx: RemoteContext) -> ActionResult:
    if not (has_command(ctx, "lpstat") and has_command(ctx, "cancel")):
        return ActionResult.failure("not_supported", "CUPS is not installed on the endpoint")
    queue = params.printer or "every queue"
    try:
        jobs = _jobs(ctx, params.printer)
        if (answer := queue_untouched(queue, jobs, ctx.dry_run)) is not None:
            return answer
        ids = [j["id"] for j in jobs]
        complaints = []
        for start in range(0, len(ids), CANCEL_BATCH):
            done = ctx.run(["cancel", *ids[start : start + CANCEL_BATCH]], timeout=60)
            if done.returncode != 0:  # e.g. a job that finished meanwhile: judged below
                complaints.append(said(done))
        left = _jobs(ctx, params.printer)
    except Refused as exc:
        return exc.result()
    return queue_cleared(queue, jobs, left, complaints)


# --- system.reboot ----------------------------------------------------------------------


def system_reboot(params: Any, ctx: RemoteContext) -> ActionResult:
    argv = reboot_argv(params.delay_s, params.message, platform(ctx))
    if not has_command(ctx, argv[0]):
        return ActionResult.failure("not_supported", "no shutdown command on the endpoint")
    if ctx.dry_run:
        return ActionResult(output="would run: " + " ".join(argv), data={"argv": argv})
    done = ctx.run(argv, timeout=60)
    if done.returncode != 0:
        return ActionResult.failure("command_failed", said(done), data={"argv": argv})
    said_text = (done.stdout + done.stderr).strip() or "reboot scheduled"
    return ActionResult(changed=True, output=said_text, data={"argv": argv})


ACTIONS = {
    "hosts.set": hosts_set,
    "dns.flush": dns_flush,
    "print.clear_queue": print_clear_queue,
    "system.reboot": system_reboot,
}
