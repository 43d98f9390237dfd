"""Turn inventory snapshots into the messages the controller applies: full, then deltas.

A section is sent again only when its JSON changed. Each delta names the sequence
number of the message it builds on, so the controller can tell a broken chain (a
dropped spool entry, a controller restored from backup) and ask for a full snapshot.
"""

from __future__ import annotations

import json
import time
from typing import Any

from protos.deskside.v1 import agent_pb2


def _encode(section: Any) -> bytes:
    return json.dumps(section, sort_keys=True, separators=(",", ":")).encode()


class InventoryFeed:
    def __init__(self) -> None:
        self._sent: dict[str, bytes] = {}
        self.base_seq = 0  # sequence of the last inventory message spooled
        self._full_wanted = True

    def want_full(self) -> None:
        self._full_wanted = True

    def message(self, snapshot: dict[str, Any]) -> agent_pb2.Durable | None:
        """The durable message for this snapshot, or None when nothing changed."""
        encoded = {name: _encode(value) for name, value in snapshot.items()}
        full = self._full_wanted
        if full:
            sections, removed = encoded, []
        else:
            sections = {k: v for k, v in encoded.items() if self._sent.get(k) != v}
            removed = sorted(k for k in self._sent if k not in encoded)
            if not sections and not removed:
                return None
        inventory = agent_pb2.Inventory(
            full=full,
            base_seq=0 if full else self.base_seq,
            collected_at_ms=int(time.time() * 1000),
            sections=sections,
            removed_sections=removed,
        )
        self._sent = encoded
        self._full_wanted = False
        return agent_pb2.Durable(inventory=inventory)

    def spooled(self, seq: int) -> None:
        self.base_seq = seq
