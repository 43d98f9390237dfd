"""Process count and the heaviest processes by CPU and by memory."""

from __future__ import annotations

import heapq
from typing import Any

import psutil

# username is deliberately not fetched here: it costs a /proc read and a
# passwd lookup per process, and is only needed for the few that are shown.
_ATTRS = ["name", "cpu_percent", "memory_info"]


class ProcessSampler:
    """Samples processes; create once and keep, so CPU usage has a baseline.

    psutil.process_iter keeps its Process objects in a module-level cache
    between calls, and each object remembers the CPU times of its previous
    cpu_percent() call, so every sample measures usage since the one before.
    Other process_iter users in the same interpreter share that cache.
    """

    def __init__(self, top_n: int) -> None:
        self._top_n = top_n
        # The first cpu_percent() of a process has nothing to compare with and
        # reads 0.0; sampling once now makes the first real snapshot meaningful.
        self.sample()

    def sample(self) -> dict[str, Any]:
        """Return {count, top_cpu, top_memory}.

        cpu_percent is relative to one CPU, as in top(1): a process busy on
        two cores reads 200.0. rss is in bytes.
        """
        rows: list[tuple[float, int, psutil.Process]] = []
        for proc in psutil.process_iter(_ATTRS, ad_value=None):
            info = proc.info
            memory = info["memory_info"]
            rows.append((info["cpu_percent"] or 0.0, memory.rss if memory else 0, proc))
        top_cpu = heapq.nlargest(self._top_n, rows, key=lambda row: (row[0], row[1]))
        top_memory = heapq.nlargest(self._top_n, rows, key=lambda row: row[1])
        usernames: dict[int, str | None] = {}
        return {
            "count": len(rows),
            "top_cpu": [_describe(row, usernames) for row in top_cpu],
            "top_memory": [_describe(row, usernames) for row in top_memory],
        }


def _describe(
    row: tuple[float, int, psutil.Process], usernames: dict[int, str | None]
) -> dict[str, Any]:
    cpu, rss, proc = row
    if proc.pid not in usernames:
        try:
            usernames[proc.pid] = proc.username()
        except psutil.Error:
            usernames[proc.pid] = None
    return {
        "pid": proc.pid,
        "name": proc.info["name"],
        "username": usernames[proc.pid],
        "cpu_percent": cpu,
        "rss": rss,
    }
