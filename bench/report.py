"""The table both benches print: deskside's figure, the goal, the peer's, the ratio."""

from __future__ import annotations


def render(rows: list[list[str]]) -> str:
    """Rows of five cells (label, deskside, verdict, peer, ratio), the first a header."""
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        r[0].ljust(widths[0])
        + "".join(f"  {c:>{w}}" for c, w in zip(r[1:], widths[1:], strict=True))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
