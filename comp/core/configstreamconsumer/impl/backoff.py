"""Exponential backoff with jitter, reset after a healthy period."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from comp.core.configstreamconsumer.def_ import BackoffPolicy

__all__ = ["MAX_RECORDED_DELAYS", "Backoff", "RandomSource"]

MAX_RECORDED_DELAYS = 1000

RandomSource = Callable[[], float]
"""Returns a float in [0, 1); ``random.random`` in production, a fixed sequence in tests."""


class Backoff:
    """Chooses the delay before each reconnection attempt and remembers the last ``MAX_RECORDED_DELAYS``."""

    def __init__(self, policy: BackoffPolicy, rand: RandomSource) -> None:
        self._policy = policy
        self._rand = rand
        self._attempt = 0
        self._base = policy.initial
        self.delays: deque[float] = deque(maxlen=MAX_RECORDED_DELAYS)
        """The last delays chosen, oldest first."""

    @property
    def attempt(self) -> int:
        """Consecutive retries since the last reset."""
        return self._attempt

    def next_delay(self) -> float:
        """The delay before the next attempt: grows by ``multiplier`` up to ``cap``, minus jitter."""
        p = self._policy
        delay = self._base * (1.0 - p.jitter * self._rand())
        self._base = min(p.cap, self._base * p.multiplier)
        self._attempt += 1
        self.delays.append(delay)
        return delay

    def reset(self) -> None:
        """Start again from the initial delay (after a connection stayed healthy long enough)."""
        self._attempt = 0
        self._base = self._policy.initial

    def note_healthy_for(self, seconds: float) -> None:
        """Reset when a connection lasted at least ``healthy_reset`` seconds."""
        if seconds >= self._policy.healthy_reset:
            self.reset()
