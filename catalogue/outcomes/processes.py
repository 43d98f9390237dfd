"""process.list and process.kill: the listing and the kill report every transport shares.

Rows have the agent's keys: {pid, name, user, cmdline, rss, started} (+ cpu_percent).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catalogue.result import ActionResult, Evidence


def listing(rows: Iterable[dict[str, Any]], params: Any) -> ActionResult:
    """process.list's answer: the rows named params.name, busiest first, params.limit of them."""
    kept = [r for r in rows if params.name is None or r["name"] == params.name]
    key = "cpu_percent" if params.sort == "cpu" else "rss"
    kept.sort(key=lambda r: r.get(key) or 0, reverse=True)
    top = kept[: params.limit]
    lines = [
        f"{r['pid']:>7} {r['cpu_percent']:>5}% {(r['rss'] or 0) // 2**20:>6} MiB  {r['name']}"
        for r in top
    ]
    return ActionResult(output="\n".join(lines), data={"count": len(kept), "processes": top})


def named(rows: list[dict[str, Any]]) -> str:
    """The targets as a kill report names them: "name (pid), ..."."""
    return ", ".join(f"{d['name']} ({d['pid']})" for d in rows)


def signal_denied(pid: int, before: list[dict[str, Any]]) -> ActionResult:
    return ActionResult.failure(
        "permission_denied", f"not allowed to signal pid {pid}", evidence=Evidence(before=before)
    )


def killed(
    did: str,
    before: list[dict[str, Any]],
    signalled: list[int],
    still_running: list[int],
    wait_s: float,
) -> ActionResult:
    """process.kill's report once the targets were told to end and given wait_s to do so."""
    output = did
    if still_running:
        output += f"; still running after {wait_s:g} s: {', '.join(map(str, still_running))}"
    after = {"signalled": signalled, "still_running": still_running}
    return ActionResult(
        changed=bool(signalled), output=output, evidence=Evidence(before=before, after=after)
    )
