"""Priority from impact x urgency through a matrix (1 = highest, 5 = lowest)."""

from __future__ import annotations

from collections.abc import Sequence

from controller.errors import InvalidInput

LEVELS = (1, 2, 3)  # impact and urgency: 1 = high, 2 = medium, 3 = low
# ServiceNow's default: rows are impact 1..3, columns urgency 1..3.
DEFAULT_MATRIX: tuple[tuple[int, ...], ...] = ((1, 2, 3), (2, 3, 4), (3, 4, 5))


def checked_matrix(
    rows: Sequence[Sequence[int]], field: str = "priority_matrix"
) -> tuple[tuple[int, ...], ...]:
    """A 3x3 matrix of priorities 1-5 that never ranks a lower impact or urgency higher."""
    if len(rows) != len(LEVELS) or any(len(row) != len(LEVELS) for row in rows):
        raise InvalidInput(field, "must be 3 rows (impact 1-3) of 3 priorities (urgency 1-3)")
    matrix = tuple(tuple(int(p) for p in row) for row in rows)
    if any(not 1 <= p <= 5 for row in matrix for p in row):
        raise InvalidInput(field, "priorities are 1 (critical) to 5 (planning)")
    for i in range(3):
        for j in range(3):
            if (i and matrix[i][j] < matrix[i - 1][j]) or (j and matrix[i][j] < matrix[i][j - 1]):
                raise InvalidInput(
                    field, "a lower impact or urgency must not give a higher priority"
                )
    return matrix


def priority(impact: int, urgency: int, matrix: Sequence[Sequence[int]] = DEFAULT_MATRIX) -> int:
    for name, value in (("impact", impact), ("urgency", urgency)):
        if value not in LEVELS:
            raise InvalidInput(name, "1 (high), 2 (medium) or 3 (low)")
    return int(matrix[impact - 1][urgency - 1])
