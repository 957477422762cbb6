"""One subscriber's bounded queue and cursor: the only code that reads or writes them.

Every method runs on the producer's event loop. The queue holds references to events shared with
the other subscribers and the history, never copies: at most ``queue_size`` of them and at most
``queue_max_bytes`` of payload, except that an empty queue always takes one event (a snapshot or an
update larger than the budget must still get through).

The producer drives a subscription through a few methods (:meth:`StreamSubscription.offer` for each
new update, :meth:`~StreamSubscription.resync`, :meth:`~StreamSubscription.resume_after`,
:meth:`~StreamSubscription.close`) and reads it through :meth:`~StreamSubscription.status`. What a
subscription needs from the producer it only reads (:class:`SubscriptionSource`): a snapshot, the
shared history, the epoch. State and its invariants (:meth:`StreamSubscription.check`):

- ``cursor``: id of the last update accounted for (queued, or skipped by the key filter); None while
  a snapshot is due (at first, and after a resync was decided). The queue is then empty.
- ``lagging``: its queue was full when an update came; later updates are not queued, the cursor stays
  put, and the history or a snapshot fills the gap once the queue is drained.
- ``resuming``: it resumed after a reconnect and the updates it missed come from the history; it is
  ``lagging`` too (same delivery), but updates not queued meanwhile are not counted as dropped.
- the queue holds at most one snapshot, only at its head, and updates in increasing id order ending
  at the cursor.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol

from comp.core.configstream.def_ import EventKind, KeyFilter, StreamEvent, SubscriberStatus
from comp.core.configstream.impl import framing
from comp.core.configstream.impl.history import EventHistory
from comp.core.configstream.impl.keymatch import KeyMatcher
from comp.core.configstream.impl.metrics import ResyncCause, StreamMetrics

__all__ = ["Delivery", "StreamSubscription", "SubscriptionSource"]

_log = logging.getLogger(__name__)

PROGRESS_JITTER = 0.2
"""Each idle interval before a progress event is the configured one times 1 ± this, at random."""


class SubscriptionSource(Protocol):
    """What a subscription reads from its producer (it changes nothing there but its membership)."""

    @property
    def epoch(self) -> str: ...

    @property
    def history(self) -> EventHistory: ...

    def snapshot(self, key_filter: KeyFilter | None, with_epoch: bool) -> StreamEvent:
        """The snapshot at the config's current sequence id, filtered, carrying the epoch if asked."""
        ...

    def remove(self, subscription: StreamSubscription) -> None: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a subscriber is served, fixed at subscription.

    ``max_batch_updates``: most updates in one message (1: no batches). ``max_batch_bytes``: most
    bytes of one batch message. ``key_filter``: None for every key. ``progress_interval``: seconds
    of idleness before a progress event (None: never). ``with_epoch``: snapshots carry the epoch.
    """

    max_batch_updates: int = 1
    max_batch_bytes: int = 0
    key_filter: KeyFilter | None = None
    progress_interval: float | None = None
    with_epoch: bool = False


class StreamSubscription:
    """Implements ``def_.Subscription``."""

    def __init__(
        self,
        sub_id: int,
        name: str,
        source: SubscriptionSource,
        metrics: StreamMetrics,
        *,
        queue_size: int,
        queue_max_bytes: int,
        delivery: Delivery = Delivery(),
        session_id: str = "",
    ) -> None:
        self._id = sub_id
        self._name = name
        self._session_id = session_id
        self._source = source
        self._metrics = metrics
        self._queue_size = queue_size
        self._queue_max_bytes = queue_max_bytes
        self._delivery = delivery
        self._batch = delivery.max_batch_updates if delivery.max_batch_updates > 1 else 0
        self._matcher = KeyMatcher(delivery.key_filter) if delivery.key_filter is not None else None
        self._plain = not self._batch and self._matcher is None and delivery.progress_interval is None
        self._queue: deque[StreamEvent] = deque()
        self._queued_bytes = 0
        self._cursor: int | None = None
        self._lagging = False
        self._resuming = False
        self._resumed = False
        self._closed = False
        self._wakeup = asyncio.Event()
        self._last_written: int | None = None
        self._events_sent = 0
        self._times_lagging = 0
        self._catch_ups = 0
        self._resyncs = 0
        # progress events
        self._interval = delivery.progress_interval
        self._random = random.Random()
        self._last_write_at = 0.0
        self._idle_for = 0.0
        self._timer: asyncio.TimerHandle | None = None
        if self._interval is not None:
            self._next_idle_interval()

    # --- read by the producer and the transport ---

    @property
    def id(self) -> int:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def cursor(self) -> int | None:
        """Id of the last update accounted for; None while a snapshot is due."""
        return self._cursor

    @property
    def lagging(self) -> bool:
        return self._lagging

    @property
    def resuming(self) -> bool:
        """Lagging only because it resumed: the updates it missed are still to come from the history."""
        return self._resuming

    @property
    def with_epoch(self) -> bool:
        return self._delivery.with_epoch

    @property
    def pending(self) -> int:
        """Events queued and not yet taken by ``events()``."""
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def status(self) -> SubscriberStatus:
        return SubscriberStatus(
            name=self._name,
            session_id=self._session_id,
            events_sent=self._events_sent,
            lagging=self._lagging and not self._resuming,
            times_lagging=self._times_lagging,
            catch_ups=self._catch_ups,
            resyncs=self._resyncs,
            resumed=self._resumed,
        )

    def check(self) -> None:
        """Raise AssertionError when the state breaks an invariant (see the module docstring)."""
        queue = self._queue
        assert self._queued_bytes == sum(len(e.payload) for e in queue), "queued bytes"
        if self._closed:
            assert not queue, "a closed subscription holds events"
            return
        if self._cursor is None:
            assert not queue and not self._lagging and not self._resuming, "snapshot due with state"
            return
        assert not self._resuming or self._lagging, "resuming without lagging"
        ids = [e.sequence_id for e in queue if e.kind is EventKind.UPDATE]
        assert all(e.kind is EventKind.UPDATE for e in list(queue)[1:]), "a snapshot behind the head"
        assert ids == sorted(set(ids)), "updates out of order"
        if queue:
            assert queue[-1].sequence_id <= self._cursor, "queue past the cursor"

    # --- driven by the producer ---

    def offer(self, event: StreamEvent) -> None:
        """Queue a new update if it is the next one for this subscriber; never blocks, never waits."""
        cursor = self._cursor
        if cursor is None or self._closed:
            return  # a snapshot is due: it will include this change
        sequence_id = event.sequence_id
        if sequence_id <= cursor:
            return  # already covered by a snapshot or by the resume point
        if self._lagging:
            if not self._resuming and (self._matcher is None or self._matcher.matches(event.key)):
                self._metrics.dropped_updates += 1
            return
        if sequence_id != cursor + 1:
            _log.warning(
                "config stream subscriber %s (%d): update %d does not follow %d; sending a snapshot",
                self._name,
                self._id,
                sequence_id,
                cursor,
            )
            self._metrics.discontinuities += 1
            self.resync(ResyncCause.GAP)
            return
        if self._matcher is not None and not self._matcher.matches(event.key):
            self._cursor = sequence_id  # accounted for: nothing to send
            return
        size = len(event.payload)
        queue = self._queue
        queued = len(queue)
        if queued >= self._queue_size or (queued and self._queued_bytes + size > self._queue_max_bytes):
            _log.warning(
                "config stream subscriber %s (%d) is not keeping up (%d events, %d bytes queued): "
                "marked lagging",
                self._name,
                self._id,
                queued,
                self._queued_bytes,
            )
            self._lagging = True
            self._times_lagging += 1
            self._metrics.lagging += 1
            self._metrics.dropped_updates += 1
            return
        queue.append(event)
        self._queued_bytes += size
        self._cursor = sequence_id
        self._wakeup.set()

    def resync(self, cause: str) -> None:
        """Drop what is queued (the snapshot supersedes it) and send a snapshot next; nothing when a
        snapshot is already due or the subscription is closed."""
        if self._cursor is None or self._closed:
            return
        self._metrics.add_resync(cause)
        self._resyncs += 1
        self._queue.clear()
        self._queued_bytes = 0
        self._cursor = None
        self._lagging = self._resuming = False
        self._wakeup.set()

    def resume_after(self, cursor: int, *, behind: bool) -> None:
        """Start after ``cursor`` without a snapshot; ``behind``: updates after it are already past,
        to be served from the history. Only before ``events()`` starts."""
        assert self._cursor is None and not self._queue, "resume after the stream started"
        self._cursor = cursor
        self._last_written = cursor  # what the client applied last
        self._resumed = True
        self._lagging = self._resuming = behind

    def close(self) -> None:
        """Unsubscribe; idempotent. ``events()`` ends."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._queued_bytes = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._source.remove(self)
        self._wakeup.set()

    # --- the transport's side ---

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Snapshot first, then updates in order; ends when closed. Iterate once: leaving closes."""
        queue = self._queue
        metrics = self._metrics
        try:
            while True:
                if not queue and not self._closed:
                    self._refill()
                if queue:
                    event = queue.popleft()
                    self._queued_bytes -= len(event.payload)
                    if self._plain:  # no extension: the shared bytes as they are
                        if event.kind is EventKind.UPDATE:
                            metrics.updates_sent += 1
                        else:
                            metrics.snapshots_sent += 1
                        self._events_sent += 1
                        yield event
                    else:
                        yield self._extended(event)
                    continue
                if self._closed:
                    return
                if self._interval is not None and self._progress_due():
                    yield self._progress()
                    continue
                # No await between the checks above and this wait: nothing can slip in between.
                self._wakeup.clear()
                await self._wakeup.wait()
        finally:
            self.close()

    # --- internals ---

    def _extended(self, event: StreamEvent) -> StreamEvent:
        """``event`` as this subscriber asked for it: a batch, previous ids, the progress clock."""
        if event.kind is EventKind.UPDATE:
            if self._batch and self._queue:
                event = self._take_batch(event)
                if event.kind is EventKind.BATCH:
                    self._metrics.batches_sent += 1
            elif self._matcher is not None:
                event = self._with_previous(event)
            self._metrics.updates_sent += event.count
            self._events_sent += event.count
        else:
            self._metrics.snapshots_sent += 1
            self._events_sent += 1
        self._last_written = event.sequence_id
        if self._interval is not None:
            self._last_write_at = asyncio.get_running_loop().time()
        return event

    def _refill(self) -> None:
        """Refill an empty queue: a snapshot when one is due, else history for a lagging subscriber."""
        if self._cursor is None:
            snapshot = self._source.snapshot(self._delivery.key_filter, self._delivery.with_epoch)
            self._queue.append(snapshot)
            self._queued_bytes += len(snapshot.payload)
            self._cursor = snapshot.sequence_id
            return
        if not self._lagging:
            return
        history = self._source.history
        wanted = self._cursor + 1
        if history and history.first_id <= wanted <= history.last_id:
            self._fill_from(history.since(wanted))  # as much as the queue's bounds allow
            if self._cursor == history.last_id:
                self._lagging = False
                if self._resuming:
                    self._resuming = False  # counted as a resume, not as a catch-up
                else:
                    self._metrics.catch_ups += 1
                    self._catch_ups += 1
                    _log.info("config stream subscriber %s caught up from history", self._name)
        elif history and wanted > history.last_id:
            self._lagging = self._resuming = False  # nothing was missed after all
        else:
            _log.warning(
                "config stream subscriber %s fell out of the history (needs %d): sending a snapshot",
                self._name,
                wanted,
            )
            self.resync(ResyncCause.FELL_BEHIND)
            self._refill()

    def _fill_from(self, events: Iterable[StreamEvent]) -> None:
        """Queue the matching ``events`` in order while the queue's bounds allow (always the first
        one); the cursor moves to the last one queued or skipped."""
        queue = self._queue
        matcher = self._matcher
        for event in events:
            if matcher is not None and not matcher.matches(event.key):
                self._cursor = event.sequence_id
                continue
            size = len(event.payload)
            if queue and (
                len(queue) >= self._queue_size or self._queued_bytes + size > self._queue_max_bytes
            ):
                break
            queue.append(event)
            self._queued_bytes += size
            self._cursor = event.sequence_id

    def _take_batch(self, first: StreamEvent) -> StreamEvent:
        """``first`` and the updates queued behind it, as one batch within the count and byte bounds;
        ``first`` alone (unbatched) when no other fits."""
        queue = self._queue
        extra = framing.PREVIOUS_FIELD_MAX_BYTES if self._matcher is not None else 0
        limit = self._delivery.max_batch_bytes
        bodies = [framing.update_body(first.payload)]
        inner = framing.batch_entry_size(len(bodies[0]) + extra)
        taken = [first]
        while queue and len(taken) < self._batch:
            candidate = queue[0]
            if candidate.kind is not EventKind.UPDATE:
                break
            body = framing.update_body(candidate.payload)
            entry = framing.batch_entry_size(len(body) + extra)
            if framing.batch_size(inner + entry) > limit:
                break
            queue.popleft()
            self._queued_bytes -= len(candidate.payload)
            inner += entry
            bodies.append(body)
            taken.append(candidate)
        if len(taken) == 1:
            return self._with_previous(first) if self._matcher is not None else first
        last = taken[-1].sequence_id
        if self._matcher is not None:
            ids = [event.sequence_id for event in taken]
            payload = framing.batch_event_with_previous(bodies, ids, self._previous())
        else:
            payload = framing.batch_event(bodies)
        return StreamEvent(EventKind.BATCH, last, payload, count=len(taken))

    def _previous(self) -> int:
        return self._last_written if self._last_written is not None else 0

    def _with_previous(self, event: StreamEvent) -> StreamEvent:
        body = framing.update_body(event.payload)
        payload = framing.update_event_with_previous(body, self._previous())
        return StreamEvent(EventKind.UPDATE, event.sequence_id, payload, event.key)

    def _next_idle_interval(self) -> None:
        assert self._interval is not None
        self._idle_for = self._interval * self._random.uniform(1 - PROGRESS_JITTER, 1 + PROGRESS_JITTER)

    def _progress_due(self) -> bool:
        """Whether the stream has been idle long enough for a progress event; if not, make sure a
        timer wakes ``events()`` when it will be."""
        if self._cursor is None or self._lagging:
            return False
        loop = asyncio.get_running_loop()
        if self._last_write_at == 0.0:
            self._last_write_at = loop.time()  # a resumed stream that has written nothing yet
        due = self._last_write_at + self._idle_for
        if loop.time() >= due:
            return True
        if self._timer is None or self._timer.when() > due:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(due, self._on_timer)
        return False

    def _on_timer(self) -> None:
        self._timer = None
        self._wakeup.set()

    def _progress(self) -> StreamEvent:
        """A progress event at the cursor: idle and not lagging, every update up to it was offered."""
        assert self._cursor is not None
        sequence_id = self._cursor
        event = StreamEvent(
            EventKind.PROGRESS, sequence_id, framing.progress_event(sequence_id, self._source.epoch), count=0
        )
        self._last_written = sequence_id
        self._last_write_at = asyncio.get_running_loop().time()
        self._next_idle_interval()
        self._metrics.progress_sent += 1
        return event
