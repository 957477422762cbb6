"""One subscriber's bounded queue and cursor.

Every method runs on the producer's event loop. The queue holds references to events shared with
the other subscribers and the history, never copies: at most ``queue_size`` of them and at most
``queue_max_bytes`` of payload, except that an empty queue always takes one event (a snapshot or an
update larger than the budget must still get through).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from comp.core.configstream.def_ import EventKind, StreamEvent
from comp.core.configstream.impl.metrics import ResyncCause, StreamMetrics

__all__ = ["StreamSubscription", "SubscriptionHub"]

_log = logging.getLogger(__name__)


class SubscriptionHub(Protocol):
    """What a subscription asks of its producer."""

    def replenish(self, subscription: StreamSubscription) -> None:
        """Refill an empty queue: a snapshot when one is due, else history for a lagging subscriber."""
        ...

    def remove(self, subscription: StreamSubscription) -> None: ...


class StreamSubscription:
    """Implements ``def_.Subscription``.

    State, read and written by the producer:

    - ``queue``/``queued_bytes``: events not yet taken by ``events()`` and their payload bytes (change
      them through :meth:`fill`, :meth:`offer`, :meth:`resync`).
    - ``cursor``: id of the last event queued for this subscriber; None while a snapshot is due
      (at first, and after a resync was decided).
    - ``lagging``: its queue was full when an update came; later updates are not queued, the cursor
      stays put, and the history or a snapshot fills the gap once the queue is drained.
    - ``resuming``: it resumed after a reconnect and the updates it missed come from the history; it
      is ``lagging`` too (same delivery), but updates not queued meanwhile are not counted as dropped.
    - ``with_epoch``: it asked for the resume extension; its snapshots carry the producer's epoch.
    - ``resumed``: its resume point was accepted at subscription (``def_.Subscription.resumed``).
    """

    def __init__(
        self,
        sub_id: int,
        name: str,
        hub: SubscriptionHub,
        metrics: StreamMetrics,
        *,
        queue_size: int,
        queue_max_bytes: int,
        with_epoch: bool = False,
    ) -> None:
        self._id = sub_id
        self._name = name
        self._hub = hub
        self._metrics = metrics
        self._queue_size = queue_size
        self._queue_max_bytes = queue_max_bytes
        self.queued_bytes = 0
        self.with_epoch = with_epoch
        self.resumed = False
        self.queue: deque[StreamEvent] = deque()
        self.cursor: int | None = None
        self.lagging = False
        self.resuming = False
        self._closed = False
        self._wakeup = asyncio.Event()

    @property
    def id(self) -> int:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Events queued and not yet taken by ``events()``."""
        return len(self.queue)

    def offer(self, event: StreamEvent) -> None:
        """Queue a new update if it is the next one for this subscriber; never blocks, never waits."""
        if self._closed or self.cursor is None:
            return  # a snapshot is due: it will include this change
        if event.sequence_id <= self.cursor:
            return  # already covered by a snapshot or by the resume point
        if self.lagging:
            if not self.resuming:
                self._metrics.dropped_updates += 1
            return
        if event.sequence_id != self.cursor + 1:
            _log.warning(
                "config stream subscriber %s (%d): update %d does not follow %d; sending a snapshot",
                self._name,
                self._id,
                event.sequence_id,
                self.cursor,
            )
            self._metrics.discontinuities += 1
            self.resync(ResyncCause.GAP)
            return
        size = len(event.payload)
        queued = len(self.queue)
        if queued >= self._queue_size or (queued and self.queued_bytes + size > self._queue_max_bytes):
            _log.warning(
                "config stream subscriber %s (%d) is not keeping up (%d events, %d bytes queued): "
                "marked lagging",
                self._name,
                self._id,
                queued,
                self.queued_bytes,
            )
            self.lagging = True
            self._metrics.lagging += 1
            self._metrics.dropped_updates += 1
            return
        self.queue.append(event)
        self.queued_bytes += size
        self.cursor = event.sequence_id
        self._wakeup.set()

    def fill(self, events: Iterable[StreamEvent]) -> None:
        """Queue ``events`` in order while the queue's bounds allow (always the first one); the cursor
        moves to the last one queued. For the producer's snapshots and catch-ups."""
        queue = self.queue
        for event in events:
            size = len(event.payload)
            if queue and (len(queue) >= self._queue_size or self.queued_bytes + size > self._queue_max_bytes):
                break
            queue.append(event)
            self.queued_bytes += size
        if queue:
            self.cursor = queue[-1].sequence_id

    def resync(self, cause: str) -> None:
        """Drop what is queued (the snapshot supersedes it) and send a snapshot next."""
        self._metrics.add_resync(cause)
        self.queue.clear()
        self.queued_bytes = 0
        self.cursor = None
        self.lagging = self.resuming = False
        self._wakeup.set()

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Snapshot first, then updates in order; ends when closed. Iterate once: leaving closes."""
        try:
            while True:
                if not self.queue and not self._closed:
                    self._hub.replenish(self)
                if self.queue:
                    event = self.queue.popleft()
                    self.queued_bytes -= len(event.payload)
                    if event.kind is EventKind.UPDATE:
                        self._metrics.updates_sent += 1
                    else:
                        self._metrics.snapshots_sent += 1
                    yield event
                    continue
                if self._closed:
                    return
                # No await between the checks above and this wait: nothing can slip in between.
                self._wakeup.clear()
                await self._wakeup.wait()
        finally:
            self.close()

    def close(self) -> None:
        """Unsubscribe; idempotent. ``events()`` ends."""
        if self._closed:
            return
        self._closed = True
        self.queue.clear()
        self.queued_bytes = 0
        self._hub.remove(self)
        self._wakeup.set()
