"""Which state moves a ticket may make, and what each move needs.

new -> assigned -> in_progress -> pending (requester | vendor | change) -> resolved -> closed,
with reopen from resolved. Closed is final: a problem that comes back gets a new ticket
linked to the old one, so the closed record (and its SLA) stays as it was.
"""

from __future__ import annotations

from controller.errors import Conflict, InvalidInput

STATES = ("new", "assigned", "in_progress", "pending", "resolved", "closed")
OPEN_STATES = frozenset({"new", "assigned", "in_progress", "pending"})
PENDING_REASONS = ("requester", "vendor", "change")
# The SLA clock stops while the desk waits on someone outside it.
CLOCK_STOPPING_REASONS = frozenset({"requester", "vendor"})

MOVES: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned", "in_progress", "pending", "resolved"}),
    "assigned": frozenset({"new", "in_progress", "pending", "resolved"}),
    "in_progress": frozenset({"assigned", "pending", "resolved"}),
    "pending": frozenset({"assigned", "in_progress", "resolved"}),
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset(),
}


def check_move(
    current: str,
    target: str,
    *,
    reason: str | None,
    resolution: str,
    has_assignee: bool,
) -> None:
    """Raise InvalidInput for a bad request, Conflict (with why) for an illegal move."""
    if target not in STATES:
        raise InvalidInput("state", f"one of {', '.join(STATES)}")
    if target == current:
        raise Conflict(f"the ticket is already {current}")
    if target not in MOVES[current]:
        if current == "closed":
            raise Conflict("closed tickets are final; open a new ticket linked to this one")
        allowed = ", ".join(sorted(MOVES[current]))
        raise Conflict(f"a ticket cannot go from {current} to {target} (from {current}: {allowed})")
    if target == "pending" and reason not in PENDING_REASONS:
        raise InvalidInput("reason", f"pending needs a reason: {', '.join(PENDING_REASONS)}")
    if target == "resolved" and not resolution.strip():
        raise InvalidInput("resolution", "say what fixed it before resolving")
    if target in ("assigned", "in_progress") and not has_assignee:
        raise Conflict(f"{target} needs an assignee; assign the ticket first")
