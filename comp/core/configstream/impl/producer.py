"""The config stream producer: fans config changes out to subscribers.

How a change travels:

1. The config calls :meth:`ConfigStreamProducer._on_config_change` on the writer's thread, which
   only hands the change to the event loop: the writer never waits. From another thread that is
   ``call_soon_threadsafe``; from the loop's own thread (a change made by an RPC handler) a plain
   ``call_soon``, which queues the callback alike without writing to the loop's wake-up socket.
2. On the loop the change becomes one serialized ``ConfigEvent`` (converted once, whatever the
   number of subscribers), is appended to the shared history and offered to each subscriber.
3. A subscriber queues it if it is the next id for it and its queue has room; a full queue marks it
   lagging; an id that does not follow its cursor (a missed or out-of-order change) makes it resync.
4. When a subscriber has drained its queue, it refills it with what is due: a snapshot (built once
   per sequence id and shared, :meth:`ConfigStreamProducer.snapshot`), or the updates a lagging
   subscriber missed, from the history while it still holds them, else a snapshot. The subscription
   owns its queue and cursor (:mod:`.subscription`); the producer only offers, resyncs and resumes.

Extensions a subscriber asks for at ``subscribe`` (each changes nothing for the others): batches of
queued updates (bounded by ``batch_max_updates`` and the message size), a key filter (its snapshots
are built from the same settings read, filtered, once per filter and sequence id), progress events
on an idle stream (``progress_interval``, jittered). See :mod:`.subscription` and :mod:`.framing`.

Resume (an extension, only for subscribers that pass ``resume``): ``epoch``, a random id drawn at
construction, names this process's sequence id space. A subscriber whose resume point has this epoch
and whose missed updates are all in the history starts with its cursor at that point and no
snapshot: it is served the missed updates from the history like a lagging subscriber, then live ones.
The history is kept while nobody is subscribed, so that a client that reconnects can resume.
Snapshots for these subscribers carry the epoch: the shared snapshot's bytes with
``snapshot_epoch_suffix(epoch)`` appended (protobuf merges the two), built once per snapshot. Unlike
setting the field and serializing again, this costs one copy instead of a second conversion, and the
snapshot sent to every other subscriber stays exactly the Go agent's.

Memory is bounded whatever a subscriber does, in counts and in serialized bytes: each subscriber's
queue holds at most ``queue_size`` events and ``queue_max_bytes`` of payload (or one event, whatever
its size), the shared history at most ``history_size`` events and ``history_max_bytes``, and one
snapshot is cached (with its epoch-carrying copy). Each event is built once and shared: its bytes are
counted once in the history, and again in the budget of each queue that holds it. With S
subscribers and events of at most ``max_event_bytes`` (``agent_ipc.grpc_max_message_size``), the
stream holds at most::

    history_max_bytes + S * (max(queue_max_bytes, max_event_bytes) + max_event_bytes) + 2 * snapshot

(the second ``max_event_bytes`` per subscriber: the event its transport is writing, a batch included:
batches are bounded by ``max_event_bytes`` too). Subscribers with key filters add their filtered
snapshots of the current sequence id, at most ``_MAX_FILTERED_SNAPSHOTS``, each no larger than the
shared one. An update larger
than ``max_event_bytes`` is never queued: no client could receive it. It is logged and counted
(``configstream.oversize_events``), the history is cleared (a catch-up cannot span it) and every
subscriber is sent a fresh snapshot (resync cause ``oversize``), so nothing is lost and no stream ends.

A value that cannot be converted is sent as null, with its key and source (in snapshots and updates
alike), logged and counted in ``configstream.conversion_errors``: never a crash, never a missing key,
and never a hole in the sequence.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Mapping

from comp.core.config import def_ as config_def
from comp.core.configstream.def_ import EventKind, KeyFilter, StreamEvent, StreamStatus
from comp.core.configstream.impl.history import EventHistory
from comp.core.configstream.impl.metrics import ResumeRefusal, ResyncCause, StreamMetrics
from comp.core.configstream.impl.subscription import Delivery, StreamSubscription
from pkg.config import keys
from pkg.config.change import ConfigChange, Setting
from pkg.config.durations import parse_duration
from pkg.config.schema import declared_default
from pkg.protoconv.configevents import (
    encode_snapshot,
    sequence_id_from_wire,
    snapshot_epoch_suffix,
    update_event,
)
from pkg.protoconv.values import ValueConversionError
from pkg.util.text import shorten

__all__ = [
    "DEFAULT_BATCH_MAX_UPDATES",
    "DEFAULT_HISTORY_MAX_BYTES",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_ORIGIN",
    "DEFAULT_PROGRESS_INTERVAL",
    "DEFAULT_QUEUE_MAX_BYTES",
    "ConfigStreamProducer",
]

_log = logging.getLogger(__name__)

DEFAULT_ORIGIN = "core-agent"
DEFAULT_HISTORY_MAX_BYTES: int = declared_default(keys.CONFIGSTREAM_HISTORY_MAX_BYTES)
DEFAULT_QUEUE_MAX_BYTES: int = declared_default(keys.CONFIGSTREAM_QUEUE_MAX_BYTES)
DEFAULT_MAX_EVENT_BYTES: int = declared_default(keys.GRPC_MAX_MESSAGE_SIZE)
DEFAULT_BATCH_MAX_UPDATES: int = declared_default(keys.CONFIGSTREAM_BATCH_MAX_UPDATES)
DEFAULT_PROGRESS_INTERVAL: float = parse_duration(
    declared_default(keys.CONFIGSTREAM_PROGRESS_INTERVAL)
).total_seconds()
_MAX_FILTERED_SNAPSHOTS = 4
"""Filtered snapshots kept for one sequence id (each no larger than the shared one)."""


class ConfigStreamProducer:
    """Implements ``def_.Component``. Everything but the config callback runs on one event loop.

    Subscribing before :meth:`start` or after :meth:`stop` gives a closed subscription whose
    ``events()`` ends at once.
    """

    def __init__(
        self,
        config: config_def.Component,
        metrics: StreamMetrics,
        *,
        history_size: int,
        queue_size: int,
        history_max_bytes: int = DEFAULT_HISTORY_MAX_BYTES,
        queue_max_bytes: int = DEFAULT_QUEUE_MAX_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        batch_max_updates: int = DEFAULT_BATCH_MAX_UPDATES,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
    ) -> None:
        if queue_size < 1 or queue_max_bytes < 1 or max_event_bytes < 1 or batch_max_updates < 1:
            raise ValueError(
                "need queue_size, queue_max_bytes, max_event_bytes and batch_max_updates >= 1, "
                f"got {queue_size}, {queue_max_bytes}, {max_event_bytes}, {batch_max_updates}"
            )
        if not progress_interval > 0:
            raise ValueError(f"need progress_interval > 0, got {progress_interval}")
        self._config = config
        self._metrics = metrics
        self._queue_size = queue_size
        self._queue_max_bytes = queue_max_bytes
        self._max_event_bytes = max_event_bytes
        self._batch_max_updates = batch_max_updates
        self._progress_interval = progress_interval
        self._history = EventHistory(history_size, history_max_bytes)
        self._subscriptions: dict[int, StreamSubscription] = {}
        self._ids = itertools.count(1)
        self._snapshot: StreamEvent | None = None
        self._epoch = uuid.uuid4().hex
        self._epoch_suffix = snapshot_epoch_suffix(self._epoch)
        self._snapshot_with_epoch: tuple[StreamEvent, StreamEvent] | None = None  # (shared, with epoch)
        # Filtered snapshots of one sequence id, by (filter, with epoch): built once per filter.
        self._filtered_snapshots: dict[tuple[KeyFilter, bool], StreamEvent] = {}
        self._filtered_at: int | None = None
        self._last_sequence_id = 0
        self._origin: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._unsubscribe_config: Callable[[], None] | None = None
        self._running = False

    @property
    def origin(self) -> str:
        """Base name of the config file used, else ``core-agent``."""
        if self._origin is None:
            path = self._config.config_file_used()
            self._origin = path.name if path is not None else DEFAULT_ORIGIN
        return self._origin

    @property
    def epoch(self) -> str:
        """Random id (uuid4 hex) of this producer's sequence id space."""
        return self._epoch

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    @property
    def queue_size(self) -> int:
        return self._queue_size

    @property
    def queue_max_bytes(self) -> int:
        return self._queue_max_bytes

    @property
    def history_size(self) -> int:
        return self._history.max_events

    @property
    def history_max_bytes(self) -> int:
        return self._history.max_bytes

    @property
    def max_event_bytes(self) -> int:
        """Largest serialized event a subscriber is sent (the gRPC message limit of its clients)."""
        return self._max_event_bytes

    @property
    def history(self) -> EventHistory:
        """The shared history of recent updates (subscriptions read it to catch up)."""
        return self._history

    @property
    def history_length(self) -> int:
        """Updates held in the history now (at most :attr:`history_size`)."""
        return len(self._history)

    @property
    def history_bytes(self) -> int:
        """Payload bytes held in the history now (at most :attr:`history_max_bytes`)."""
        return self._history.bytes

    @property
    def last_sequence_id(self) -> int:
        """Id of the last change handled on the loop."""
        return self._last_sequence_id

    def status(self) -> StreamStatus:
        subscribers = tuple(s.status() for s in self._subscriptions.values())
        history = self._history
        return StreamStatus(
            epoch=self._epoch,
            sequence_id=self._last_sequence_id,
            history_events=len(history),
            history_max_events=history.max_events,
            history_bytes=history.bytes,
            history_max_bytes=history.max_bytes,
            subscribers=subscribers,
        )

    def subscribe(
        self,
        name: str,
        *,
        resume: tuple[str, int] | None = None,
        session_id: str = "",
        max_batch_updates: int = 0,
        key_filter: KeyFilter | None = None,
        progress: bool = False,
    ) -> StreamSubscription:
        """A new subscription; its first event is a snapshot, unless it resumes (see ``def_``)."""
        delivery = Delivery(
            max_batch_updates=min(max(max_batch_updates, 1), self._batch_max_updates),
            max_batch_bytes=self._max_event_bytes,
            key_filter=key_filter,
            progress_interval=self._progress_interval if progress else None,
            with_epoch=resume is not None,
        )
        subscription = StreamSubscription(
            next(self._ids),
            name,
            self,
            self._metrics,
            queue_size=self._queue_size,
            queue_max_bytes=self._queue_max_bytes,
            delivery=delivery,
            session_id=session_id,
        )
        if not self._running:
            subscription.close()
            return subscription
        if resume is not None and resume[0]:
            self._resume(subscription, resume[0], resume[1])
        self._subscriptions[subscription.id] = subscription
        self._metrics.subscribers = len(self._subscriptions)
        _log.debug("config stream: %s subscribed (id %d)", name, subscription.id)
        return subscription

    async def start(self) -> None:
        """Capture the loop and listen to the config."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._last_sequence_id = self._config.sequence_id
        self._running = True
        self._unsubscribe_config = self._config.on_update(self._on_config_change)
        self._metrics.subscribers = 0

    async def stop(self) -> None:
        """Stop listening to the config and close every subscription."""
        self._running = False
        if self._unsubscribe_config is not None:
            self._unsubscribe_config()
            self._unsubscribe_config = None
        for subscription in list(self._subscriptions.values()):
            subscription.close()
        self._history.clear()
        self._snapshot = self._snapshot_with_epoch = None
        self._filtered_snapshots.clear()
        self._loop = None

    # --- called by subscriptions (on the loop) ---

    def remove(self, subscription: StreamSubscription) -> None:
        if self._subscriptions.pop(subscription.id, None) is not None:
            self._metrics.subscribers = len(self._subscriptions)
            _log.debug("config stream: %s unsubscribed (id %d)", subscription.name, subscription.id)

    def snapshot(self, key_filter: KeyFilter | None, with_epoch: bool) -> StreamEvent:
        """The snapshot at the config's current sequence id: shared, or filtered (built once per
        filter and sequence id), carrying the epoch when asked."""
        if key_filter is None:
            snapshot = self._current_snapshot()
            return self._with_epoch(snapshot) if with_epoch else snapshot
        return self._filtered_snapshot(key_filter, with_epoch)

    def _resume(self, subscription: StreamSubscription, epoch: str, wire_id: int) -> None:
        """Start ``subscription`` after ``wire_id`` without a snapshot, if the history allows it."""
        refusal: str | None = None
        cursor = 0
        if epoch != self._epoch:
            refusal = ResumeRefusal.EPOCH
        else:
            # The config may be ahead of the loop (changes on their way here), and a snapshot may
            # have been taken there: any id up to the config's is one this producer handed out.
            newest = max(self._config.sequence_id, self._last_sequence_id)
            cursor = sequence_id_from_wire(wire_id, newest)
            if cursor > newest:
                refusal = ResumeRefusal.FUTURE
            elif cursor < self._last_sequence_id and not self._history_holds(cursor + 1):
                refusal = ResumeRefusal.HISTORY
        if refusal is not None:
            self._metrics.add_resume_refused(refusal)
            _log.info(
                "config stream subscriber %s cannot resume after %d (%s): sending a snapshot",
                subscription.name,
                wire_id,
                refusal,
            )
            return
        # Missed updates come from the history once events() asks, like for a lagging subscriber;
        # changes still on their way to the loop are offered as usual.
        subscription.resume_after(cursor, behind=cursor < self._last_sequence_id)
        self._metrics.resumes += 1
        _log.info(
            "config stream subscriber %s resumes after %d (%d updates missed)",
            subscription.name,
            wire_id,
            max(self._last_sequence_id - cursor, 0),
        )

    def _history_holds(self, first: int) -> bool:
        """Whether the history holds every update from ``first`` to the last one handled."""
        history = self._history
        return bool(history) and history.first_id <= first and history.last_id == self._last_sequence_id

    # --- config changes ---

    def _on_config_change(self, change: ConfigChange) -> None:
        """Runs on the writer's thread, whichever it is: hand over to the loop and return."""
        loop = self._loop
        if loop is None or not self._running:
            return
        try:
            # Both append to the loop's one FIFO of callbacks: changes keep their order either way.
            if threading.get_ident() == self._loop_thread:
                loop.call_soon(self._publish, change)
            else:
                loop.call_soon_threadsafe(self._publish, change)
        except RuntimeError:  # the loop is closed: the stream is shutting down
            _log.debug("config stream: change %d arrived after the loop closed", change.sequence_id)

    def _publish(self, change: ConfigChange) -> None:
        if not self._running:
            return
        sequence_id = change.sequence_id
        if sequence_id <= self._last_sequence_id:
            # Late (out of order): whoever needed it saw the gap and was sent a snapshot.
            _log.debug("config stream: ignoring change %d, already past it", sequence_id)
            return
        self._last_sequence_id = sequence_id
        # Kept even while nobody is subscribed: a client that reconnects may resume from it.
        payload = update_event(self.origin, change, self._on_conversion_error).SerializeToString()
        if len(payload) > self._max_event_bytes:
            self._refuse_oversize(change, len(payload))
            return
        event = StreamEvent(EventKind.UPDATE, sequence_id, payload, change.key)
        if self._history and self._history.last_id != sequence_id - 1:
            self._history.clear()  # keep ids consecutive: a catch-up never spans a missing change
        self._history.append(event)
        for subscription in list(self._subscriptions.values()):
            subscription.offer(event)

    def _refuse_oversize(self, change: ConfigChange, size: int) -> None:
        """An update no client could receive: send every subscriber a snapshot instead."""
        self._metrics.oversize_events += 1
        _log.error(
            "config stream: update %d of %s is %d bytes, more than the %d a client accepts "
            "(agent_ipc.grpc_max_message_size): not sent, every subscriber gets a snapshot instead",
            change.sequence_id,
            shorten(change.key),
            size,
            self._max_event_bytes,
        )
        self._history.clear()  # a catch-up cannot span the missing update
        for subscription in list(self._subscriptions.values()):
            subscription.resync(ResyncCause.OVERSIZE)  # not counted when one is due already

    def _current_snapshot(self) -> StreamEvent:
        cached = self._snapshot
        if cached is not None and cached.sequence_id == self._config.sequence_id:
            return cached
        settings, sequence_id = self._config.flattened_with_sequence_id()
        if cached is not None and cached.sequence_id == sequence_id:
            return cached
        payload = self._encode_snapshot(sequence_id, settings)
        snapshot = StreamEvent(EventKind.SNAPSHOT, sequence_id, payload)
        self._snapshot = snapshot
        self._snapshot_with_epoch = None  # the previous one's copy, no longer needed
        self._metrics.snapshot_builds += 1
        if len(snapshot.payload) > self._max_event_bytes:
            # The config's own size limits should make this impossible; the transport refuses to send
            # it (RESOURCE_EXHAUSTED) and the client reconnects, as it must not see a partial view.
            self._metrics.oversize_events += 1
            _log.error(
                "config stream: the snapshot at %d is %d bytes, more than the %d a client accepts "
                "(agent_ipc.grpc_max_message_size): lower the config's size or raise the limit",
                sequence_id,
                len(snapshot.payload),
                self._max_event_bytes,
            )
        return snapshot

    def _encode_snapshot(self, sequence_id: int, settings: Mapping[str, Setting]) -> bytes:
        return encode_snapshot(self.origin, sequence_id, settings, self._on_conversion_error)

    def _filtered_snapshot(self, key_filter: KeyFilter, with_epoch: bool) -> StreamEvent:
        settings, sequence_id = self._config.flattened_with_sequence_id()
        if self._filtered_at != sequence_id:
            self._filtered_snapshots.clear()
            self._filtered_at = sequence_id
        cached = self._filtered_snapshots.get((key_filter, with_epoch))
        if cached is not None:
            return cached
        if len(self._filtered_snapshots) >= _MAX_FILTERED_SNAPSHOTS:
            self._filtered_snapshots.clear()
        matching = {key: setting for key, setting in settings.items() if key_filter.matches(key)}
        payload = self._encode_snapshot(sequence_id, matching)
        if with_epoch:
            payload += self._epoch_suffix
        snapshot = StreamEvent(EventKind.SNAPSHOT, sequence_id, payload)
        self._filtered_snapshots[key_filter, with_epoch] = snapshot
        return snapshot

    def _with_epoch(self, snapshot: StreamEvent) -> StreamEvent:
        """``snapshot`` carrying the epoch, built once per shared snapshot."""
        cached = self._snapshot_with_epoch
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        variant = StreamEvent(EventKind.SNAPSHOT, snapshot.sequence_id, snapshot.payload + self._epoch_suffix)
        self._snapshot_with_epoch = (snapshot, variant)
        return variant

    def _on_conversion_error(self, key: str, error: ValueConversionError) -> None:
        self._metrics.add_conversion_error(key)
        _log.error("config stream: setting %r is sent as null: %s", key, error)
