"""log.rotate: which renames a rotation makes, and what it reports, on every transport.

The agent renames with os.replace, ssh with mv; the plan and the report come from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from catalogue.result import ActionResult, Evidence


def generations(base: str, names: Iterable[str]) -> dict[int, str]:
    """The names among `names` that are rotated copies of base (base.1, base.2, ...),
    by number."""
    pattern = re.compile(re.escape(base) + r"\.([1-9][0-9]{0,5})")
    found = {}
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            found[int(match.group(1))] = name
    return found


def steps(path: str, existing: dict[int, str], keep: int) -> list[tuple[str, str]]:
    """(source, destination) renames, oldest first so none lands on a file still to move;
    a copy that would pass `keep` is deleted ("" as its destination)."""
    moves = [
        (name, "" if number >= keep else f"{path}.{number + 1}")
        for number, name in sorted(existing.items(), reverse=True)
    ]
    return [*moves, (path, f"{path}.1")]


def plan(path: str, moves: list[tuple[str, str]], mode: int, uid: int, gid: int) -> list[str]:
    """One line per step, the new empty log (with the old one's mode and owner) last."""
    lines = [f"delete {src}" if not dst else f"rename {src} -> {dst}" for src, dst in moves]
    return [*lines, f"create empty {path} (mode {oct(mode)}, uid {uid}, gid {gid})"]


def planned(params: Any, lines: list[str], before: dict[str, int]) -> ActionResult:
    """The dry run's answer."""
    return ActionResult(
        output="would:\n" + "\n".join(lines),
        data={"path": params.path, "keep": params.keep, "plan": lines},
        evidence=Evidence(before=before),
    )


def stopped(
    params: Any, why: object, done: list[str], lines: list[str], sizes: tuple[Any, Any]
) -> ActionResult:
    """A rotation that failed part way; done holds the steps taken, sizes (before, after)."""
    return ActionResult.failure(
        "failed",
        f"rotation stopped: {why}",
        changed=bool(done),
        data={"path": params.path, "done": done, "plan": lines},
        evidence=Evidence(before=sizes[0], after=sizes[1]),
    )


def rotated(
    params: Any, done: list[str], warning: str | None, sizes: tuple[Any, Any]
) -> ActionResult:
    output = [
        *done,
        f"the program keeps writing to {params.path}.1 until it reopens its log"
        " (restart it, or send the signal it reopens logs on)",
    ]
    if warning:
        output.append(f"warning: {warning}")
    return ActionResult(
        changed=True,
        output="\n".join(output),
        data={"path": params.path, "keep": params.keep, "done": done, "warning": warning},
        evidence=Evidence(before=sizes[0], after=sizes[1]),
    )
