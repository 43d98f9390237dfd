"""docs/SECURITY.md's role table says what ROLE_PERMISSIONS grants, permission by permission."""

from __future__ import annotations

import re
from pathlib import Path

from controller.access.roles import ROLE_PERMISSIONS, Permission, Role

DOC = Path(__file__).parents[2] / "docs" / "SECURITY.md"


def test_the_role_table_matches_the_code() -> None:
    rows = {}
    for line in DOC.read_text().splitlines():
        found = re.match(r"\| `([a-z:-]+)`[^|]*\|((?:[^|]*\|){6})\s*$", line)
        if found:
            cells = [c.strip() for c in found.group(2).split("|")[:6]]
            rows[found.group(1)] = cells
    assert set(rows) == {p.value for p in Permission}, "a permission is missing or stale"
    header = [Role.REQUESTER, Role.TIER1, Role.TIER2, Role.USA, Role.ADMIN, Role.AUDITOR]
    for permission in Permission:
        expected = ["✓" if permission in ROLE_PERMISSIONS[r] else "" for r in header]
        assert rows[permission.value] == expected, permission.value
