"""hosts.set, dns.flush, print.clear_queue and system.reboot on the endpoint."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from catalogue import ActionResult, Evidence
from catalogue.probes.cups import parse_lpstat_jobs
from catalogue.probes.hosts_file import edit_hosts, entries, is_address
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
CANCEL_BATCH = 100  # job ids per cancel command

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


def hosts_set(params: Any, ctx: RemoteContext) -> ActionResult:
    hostname, address = params.hostname, params.address
    if is_address(hostname):
        return ActionResult.failure("invalid_params", f"{hostname} is an address, not a name")
    if address is not None and not is_address(address):
        message = f"{address} is not an IP address; a hosts file maps names to addresses"
        return ActionResult.failure("invalid_params", message)
    # Edit the file a link points to, so the link (some systems manage /etc/hosts) stays.
    path = ctx.run(["realpath", "-m", "--", HOSTS_FILE], timeout=30).stdout.strip() or HOSTS_FILE
    like: Stat | None
    try:
        like, old = lstat(ctx, path), read_bytes(ctx, path)
    except Refused as exc:
        if exc.code != "not_found":
            return exc.result()
        like, old = None, b""
    new = edit_hosts(old, hostname, address)
    diff = _diff(path, old, new)
    data = {"path": path, "hostname": hostname, "address": address, "diff": diff}
    evidence = Evidence(before=entries(old, hostname), after=entries(new, hostname))
    target = f"{hostname} -> {address}" if address else f"no entry for {hostname}"
    if new == old:
        return ActionResult(output=f"{path} already has {target}", data=data, evidence=evidence)
    if ctx.dry_run:
        output = bounded(f"would change {path} to {target}:\n{diff}")
        return ActionResult(output=output, data=data, evidence=evidence)
    try:
        replace(ctx, path, new, like, sha256(old) if like else None)
    except Refused as exc:
        return ActionResult.failure("failed", f"cannot write {path}: {exc}", data=data)
    output = bounded(f"{path} now has {target}:\n{diff}")
    return ActionResult(changed=True, output=output, data=data, evidence=evidence)


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
        lines = [f"{j['id']}  {j['user']}  {j['size']} bytes  {j['submitted']}" for j in jobs]
        if not jobs:
            return ActionResult(output=f"no jobs waiting in {queue}", data={"jobs": []})
        if ctx.dry_run:
            output = f"would cancel {len(jobs)} jobs in {queue}:\n" + "\n".join(lines)
            return ActionResult(output=bounded(output), data={"jobs": jobs})
        # Exactly the jobs listed (not cancel -a): one sent meanwhile is left alone.
        ids = [j["id"] for j in jobs]
        complaints = []
        for start in range(0, len(ids), CANCEL_BATCH):
            done = ctx.run(["cancel", *ids[start : start + CANCEL_BATCH]], timeout=60)
            if done.returncode != 0:  # e.g. a job that finished meanwhile: judged below
                complaints.append(said(done))
        left = _jobs(ctx, params.printer)
    except Refused as exc:
        return exc.result()
    remaining = [j for j in left if j["id"] in set(ids)]
    evidence = Evidence(before=ids, after=[j["id"] for j in left])
    data = {"jobs": jobs, "remaining": remaining, "messages": complaints}
    cancelled = len(ids) - len(remaining)
    if remaining:
        message = f"{len(remaining)} of {len(ids)} jobs still queued: " + "; ".join(complaints)
        return ActionResult.failure(
            "failed", bounded(message), changed=cancelled > 0, data=data, evidence=evidence
        )
    output = bounded(f"cancelled {cancelled} jobs in {queue}:\n" + "\n".join(lines))
    return ActionResult(changed=True, output=output, data=data, evidence=evidence)


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
