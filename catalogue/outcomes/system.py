"""hosts.set and print.clear_queue: the checks and reports every transport shares."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from catalogue.probes.hosts_file import edit_hosts, entries, is_address
from catalogue.result import ActionResult, Evidence, bounded

# --- hosts.set --------------------------------------------------------------------------


def hosts_refusal(hostname: str, address: str | None) -> ActionResult | None:
    """The catalogue's Host type takes names and addresses alike; here each has one role."""
    if is_address(hostname):
        return ActionResult.failure("invalid_params", f"{hostname} is an address, not a name")
    if address is not None and not is_address(address):
        message = f"{address} is not an IP address; a hosts file maps names to addresses"
        return ActionResult.failure("invalid_params", message)
    return None


@dataclass(frozen=True)
class HostsEdit:
    """hosts.set's change to one hosts file, and what it reports at each outcome."""

    path: str
    old: bytes
    new: bytes
    data: dict[str, Any]
    evidence: Evidence
    target: str

    @classmethod
    def of(cls, path: str, old: bytes, hostname: str, address: str | None) -> HostsEdit:
        new = edit_hosts(old, hostname, address)
        lines = difflib.unified_diff(
            old.decode("utf-8", "replace").splitlines(),
            new.decode("utf-8", "replace").splitlines(),
            fromfile=path,
            tofile=path,
            lineterm="",
        )
        diff = "\n".join(lines)
        data = {"path": path, "hostname": hostname, "address": address, "diff": diff}
        evidence = Evidence(before=entries(old, hostname), after=entries(new, hostname))
        target = f"{hostname} -> {address}" if address else f"no entry for {hostname}"
        return cls(path, old, new, data, evidence, target)

    def without_writing(self, dry_run: bool) -> ActionResult | None:
        """The answer when nothing is to be written (no change, or a dry run)."""
        if self.new == self.old:
            output = f"{self.path} already has {self.target}"
            return ActionResult(output=output, data=self.data, evidence=self.evidence)
        if dry_run:
            output = bounded(f"would change {self.path} to {self.target}:\n{self.data['diff']}")
            return ActionResult(output=output, data=self.data, evidence=self.evidence)
        return None

    def write_failed(self, why: object) -> ActionResult:
        return ActionResult.failure("failed", f"cannot write {self.path}: {why}", data=self.data)

    def written(self) -> ActionResult:
        output = bounded(f"{self.path} now has {self.target}:\n{self.data['diff']}")
        return ActionResult(changed=True, output=output, data=self.data, evidence=self.evidence)


# --- print.clear_queue ------------------------------------------------------------------

CANCEL_BATCH = 100  # job ids per cancel command


def job_lines(jobs: list[dict[str, Any]]) -> list[str]:
    return [f"{j['id']}  {j['user']}  {j['size']} bytes  {j['submitted']}" for j in jobs]


def queue_untouched(queue: str, jobs: list[dict[str, Any]], dry_run: bool) -> ActionResult | None:
    """The answer when nothing is to be cancelled (an empty queue, or a dry run)."""
    if not jobs:
        return ActionResult(output=f"no jobs waiting in {queue}", data={"jobs": []})
    if dry_run:
        output = f"would cancel {len(jobs)} jobs in {queue}:\n" + "\n".join(job_lines(jobs))
        return ActionResult(output=bounded(output), data={"jobs": jobs})
    return None


def queue_cleared(
    queue: str, jobs: list[dict[str, Any]], left: list[dict[str, Any]], complaints: list[str]
) -> ActionResult:
    """The report once every job in `jobs` was cancelled and the queue listed again (left).

    Exactly the jobs listed were cancelled (not `cancel -a`), so a job sent meanwhile is
    left alone and the evidence matches what was done.
    """
    ids = [j["id"] for j in jobs]
    remaining = [j for j in left if j["id"] in set(ids)]
    evidence = Evidence(before=ids, after=[j["id"] for j in left])
    data = {"jobs": jobs, "remaining": remaining, "messages": complaints}
    cancelled = len(ids) - len(remaining)
    if remaining:
        message = f"{len(remaining)} of {len(ids)} jobs still queued: " + "; ".join(complaints)
        return ActionResult.failure(
            "failed", bounded(message), changed=cancelled > 0, data=data, evidence=evidence
        )
    output = f"cancelled {cancelled} jobs in {queue}:\n" + "\n".join(job_lines(jobs))
    return ActionResult(changed=True, output=bounded(output), data=data, evidence=evidence)
