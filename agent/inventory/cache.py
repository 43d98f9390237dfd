"""Results of slow probes, kept until they are due for a refresh."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any


class SlowResult:
    """Holds one slow probe's last result and re-runs it at most every ``refresh_s``.

    With a ``stamp`` function, a due refresh first compares the stamp (say, the
    package database's mtime) with the one taken at the last load, and only
    re-runs the probe when it moved; a None stamp means "cannot tell", and the
    probe runs.
    """

    def __init__(
        self,
        load: Callable[[], dict[str, Any]],
        refresh_s: float,
        stamp: Callable[[], Hashable | None] | None = None,
    ) -> None:
        self._load = load
        self._refresh_s = refresh_s
        self._stamp = stamp
        self._value: dict[str, Any] | None = None
        self._loaded_stamp: Hashable | None = None
        self._checked_at = 0.0

    def get(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._value is not None and now - self._checked_at < self._refresh_s:
            return self._value
        stamp = self._stamp() if self._stamp is not None else None
        # An unchanged stamp also restarts the interval: stat-ing the database
        # on every snapshot past the first interval would defeat the cache.
        self._checked_at = now
        if self._value is None or stamp is None or stamp != self._loaded_stamp:
            self._value = self._load()
            self._loaded_stamp = stamp
        return self._value
