"""Reconnect delays: exponential up to a cap, with jitter so that a fleet does not reconnect in step."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """``initial`` * 2**n capped at ``cap``, each delay drawn in [½, 1] of that (``rand`` in [0, 1))."""

    def __init__(self, initial: float, cap: float, rand: Callable[[], float] = random.random) -> None:
        self._initial = initial
        self._cap = max(cap, initial)
        self._rand = rand
        self._attempt = 0

    def next_delay(self) -> float:
        base = min(self._cap, self._initial * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return float(base * (0.5 + 0.5 * self._rand()))

    def reset(self) -> None:
        self._attempt = 0
