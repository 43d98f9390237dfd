"""CUPS print queues: the jobs `lpstat -o` lists."""

from __future__ import annotations

import re
from typing import Any

# lpstat -o prints "%-23s %-13s %8.0f   %c": queue-jobid, user, bytes, date. A queue name
# has no blanks, '/' or '#'; one starting with '-' would read as an option to cancel.
_JOB = re.compile(
    r"(?P<id>(?P<queue>[^\s/#-][^\s/#]*)-(?P<number>\d+))\s+(?P<user>\S+)\s+"
    r"(?P<size>\d+)\s+(?P<submitted>\S.*?)\s*"
)


def parse_lpstat_jobs(text: str) -> list[dict[str, Any]]:
    """Jobs from `lpstat -o` output; lines that are not jobs are ignored."""
    jobs = []
    for line in text.splitlines():
        match = _JOB.fullmatch(line)
        if match:
            jobs.append(
                {
                    "id": match["id"],
                    "queue": match["queue"],
                    "number": int(match["number"]),
                    "user": match["user"],
                    "size": int(match["size"]),
                    "submitted": match["submitted"],
                }
            )
    return jobs
