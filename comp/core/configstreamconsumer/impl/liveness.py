"""Telling a quiet stream from a stuck one.

A core that sends progress events writes one whenever a stream has been idle for its progress
interval (jittered). The consumer does not know that interval: it learns it, per stream, as the
silence that preceded each progress event (the longest of the last few, so jitter and a progress
event that follows an update closely never shorten it). Once a stream has sent progress, a silence
of ``multiple`` times that interval (never less than ``MIN_STALL_TIMEOUT``) means the stream is
stuck. A stream without progress events
(a core that does not send them) is never judged: the keepalive pings watch its connection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from comp.core.configstreamconsumer.def_ import Liveness

__all__ = ["MIN_STALL_TIMEOUT", "PROGRESS_WINDOW", "ProgressWatch"]

PROGRESS_WINDOW = 8
"""How many of a stream's recent progress intervals the stall timeout is taken from."""

MIN_STALL_TIMEOUT = 1.0
"""Shortest stall timeout, in seconds: a first progress event that closely follows another event
(a core whose progress timer is not reset by its writes) must not get a healthy stream dropped."""


class ProgressWatch:
    """When the core was last heard from, and when the current stream would count as stuck."""

    def __init__(self, clock: Callable[[], float], multiple: float) -> None:
        self._clock = clock
        self._multiple = multiple
        self._intervals: deque[float] = deque(maxlen=PROGRESS_WINDOW)
        self._stream_last: float | None = None
        self.last_event_at: float | None = None
        self.last_progress_at: float | None = None

    def new_stream(self) -> None:
        """A stream starts: its silence is counted from now, and it is not judged until it sends
        progress."""
        self._intervals.clear()
        self._stream_last = self._clock()

    def event(self, *, progress: bool = False) -> None:
        """An event arrived on the current stream (``progress``: a progress event)."""
        now = self._clock()
        if progress:
            if self._stream_last is not None:
                self._intervals.append(max(0.0, now - self._stream_last))
            self.last_progress_at = now
        self._stream_last = now
        self.last_event_at = now

    @property
    def progress_interval(self) -> float | None:
        return max(self._intervals) if self._intervals else None

    @property
    def stall_timeout(self) -> float | None:
        interval = self.progress_interval
        if interval is None or self._multiple <= 0:
            return None
        return max(MIN_STALL_TIMEOUT, self._multiple * interval)

    def stall_deadline(self) -> float | None:
        """The clock reading at which the current stream counts as stuck; None: not armed."""
        timeout = self.stall_timeout
        if timeout is None or self._stream_last is None:
            return None
        return self._stream_last + timeout

    def silence(self) -> float:
        """Seconds since the current stream's last event (or its start)."""
        return 0.0 if self._stream_last is None else self._clock() - self._stream_last

    def liveness(self) -> Liveness:
        return Liveness(
            last_event_at=self.last_event_at,
            last_progress_at=self.last_progress_at,
            progress_interval=self.progress_interval,
            stall_timeout=self.stall_timeout,
        )
