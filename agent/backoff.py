"""Exponential backoff with jitter, so a fleet reconnecting after an outage spreads out."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_s: float = 0.5, max_s: float = 60.0) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._attempt = 0

    def next_delay(self) -> float:
        """Half the exponential step fixed, half random ("equal jitter")."""
        step = min(self._max_s, self._initial_s * 2.0**self._attempt)
        self._attempt += 1
        return step / 2 + random.uniform(0, step / 2)

    def reset(self) -> None:
        self._attempt = 0
