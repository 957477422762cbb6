"""A test double of the config stream producer: tests push events to subscribers by hand.

Usage in the tests of a transport or a consumer::

    stream = MockConfigStream(snapshot={"log_level": Setting("info", Source.FILE)})
    ...                                        # code under test subscribes
    async with asyncio.timeout(5):
        await stream.wait_for_subscribers(1)
    stream.push_update(ConfigChange("log_level", "info", "debug", Source.AGENT_RUNTIME, 1))
    stream.close_all()                         # every events() iteration ends

Payloads are real serialized ``datadog.model.v1.ConfigEvent`` messages. The mock never resumes: a
subscription made with ``resume`` records it (``subscription.resume``), has ``resumed`` False and gets
the initial snapshot carrying the mock's ``epoch``, like the producer; pushed events are delivered as
they are. The other extensions are recorded (``max_batch_updates``, ``key_filter``, ``progress``),
not applied.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping

from comp.core.configstream.def_ import (
    EventKind,
    KeyFilter,
    ResumePoint,
    StreamEvent,
    StreamStatus,
    SubscriberStatus,
)
from pkg.config.change import ConfigChange, Setting
from pkg.protoconv.configevents import snapshot_epoch_suffix, snapshot_event, update_event

__all__ = ["MockConfigStream", "MockSubscription", "new_mock"]


class MockSubscription:
    """Implements ``Subscription`` with an unbounded queue filled by :class:`MockConfigStream`."""

    def __init__(
        self, sub_id: int, name: str, owner: MockConfigStream, resume: ResumePoint | None = None
    ) -> None:
        self._id = sub_id
        self._name = name
        self._owner = owner
        self.resume = resume
        """The resume point given to ``subscribe``, if any."""
        self.session_id = ""
        """The session id given to ``subscribe``."""
        self.max_batch_updates = 0
        self.key_filter: KeyFilter | None = None
        self.progress = False
        """The other extensions given to ``subscribe`` (recorded, not applied)."""
        self.resumed = False
        """Never accepted: the mock always starts with its snapshot."""
        self._queue: deque[StreamEvent] = deque()
        self._wakeup = asyncio.Event()
        self._delivery = asyncio.Event()
        self._closed = False
        self.delivered: list[StreamEvent] = []
        """Events handed out by ``events()``, in order."""

    @property
    def id(self) -> int:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, event: StreamEvent) -> None:
        """Queue ``event`` for this subscription only (ignored once closed)."""
        if not self._closed:
            self._queue.append(event)
            self._wakeup.set()

    async def events(self) -> AsyncIterator[StreamEvent]:
        try:
            while True:
                if self._queue:
                    event = self._queue.popleft()
                    self.delivered.append(event)
                    self._delivery.set()
                    yield event
                    continue
                if self._closed:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
        finally:
            self.close()

    async def wait_delivered(self, count: int) -> None:
        """Wait until ``events()`` has handed out ``count`` events (wrap in ``asyncio.timeout``)."""
        while len(self.delivered) < count:
            self._delivery.clear()
            await self._delivery.wait()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._wakeup.set()
        self._owner._removed(self)


class MockConfigStream:
    """Implements the config stream ``Component``; nothing is produced unless a test pushes it.

    With ``snapshot``, every new subscription first receives a snapshot of those settings at
    ``sequence_id``, like the real producer (carrying ``epoch`` for a subscription made with ``resume``).
    """

    def __init__(
        self,
        snapshot: Mapping[str, Setting] | None = None,
        *,
        sequence_id: int = 0,
        origin: str = "core-agent",
        epoch: str | None = None,
    ) -> None:
        self._origin = origin
        self._epoch = epoch if epoch is not None else uuid.uuid4().hex
        self._initial = None if snapshot is None else self._snapshot_event(snapshot, sequence_id)
        self._ids = itertools.count(1)
        self._open: dict[int, MockSubscription] = {}
        self._changed = asyncio.Event()
        self.subscriptions: list[MockSubscription] = []
        """Every subscription made, open or closed, in order."""

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def epoch(self) -> str:
        return self._epoch

    @property
    def subscriber_count(self) -> int:
        return len(self._open)

    def status(self) -> StreamStatus:
        """The epoch, the initial snapshot's sequence id, an empty history, the open subscriptions."""
        subscribers = tuple(
            SubscriberStatus(s.name, s.session_id, len(s.delivered), False, 0, 0, 0, False)
            for s in self._open.values()
        )
        sequence_id = self._initial.sequence_id if self._initial is not None else 0
        return StreamStatus(self._epoch, sequence_id, 0, 0, 0, 0, subscribers)

    def subscribe(
        self,
        name: str,
        *,
        resume: tuple[str, int] | None = None,
        session_id: str = "",
        max_batch_updates: int = 0,
        key_filter: KeyFilter | None = None,
        progress: bool = False,
    ) -> MockSubscription:
        point = None if resume is None else ResumePoint(*resume)
        subscription = MockSubscription(next(self._ids), name, self, point)
        subscription.session_id = session_id
        subscription.max_batch_updates = max_batch_updates
        subscription.key_filter = key_filter
        subscription.progress = progress
        self._open[subscription.id] = subscription
        self.subscriptions.append(subscription)
        if self._initial is not None:
            initial = self._initial
            if point is not None:
                payload = initial.payload + snapshot_epoch_suffix(self._epoch)
                initial = StreamEvent(EventKind.SNAPSHOT, initial.sequence_id, payload)
            subscription.put(initial)
        self._changed.set()
        return subscription

    def push(self, event: StreamEvent) -> None:
        """Queue ``event`` for every open subscription."""
        for subscription in list(self._open.values()):
            subscription.put(event)

    def push_snapshot(self, settings: Mapping[str, Setting], sequence_id: int) -> StreamEvent:
        """Push a snapshot of ``settings`` at ``sequence_id``; returns the event."""
        event = self._snapshot_event(settings, sequence_id)
        self.push(event)
        return event

    def push_update(self, change: ConfigChange) -> StreamEvent:
        """Push an update for ``change``; returns the event."""
        payload = update_event(self._origin, change).SerializeToString()
        event = StreamEvent(EventKind.UPDATE, change.sequence_id, payload)
        self.push(event)
        return event

    def close_all(self) -> None:
        """Close every open subscription (their ``events()`` end), as the producer's stop does."""
        for subscription in list(self._open.values()):
            subscription.close()

    async def wait_for_subscribers(self, count: int) -> None:
        """Wait until exactly ``count`` subscriptions are open (wrap in ``asyncio.timeout``)."""
        while len(self._open) != count:
            self._changed.clear()
            await self._changed.wait()

    def _removed(self, subscription: MockSubscription) -> None:
        if self._open.pop(subscription.id, None) is not None:
            self._changed.set()

    def _snapshot_event(self, settings: Mapping[str, Setting], sequence_id: int) -> StreamEvent:
        payload = snapshot_event(self._origin, sequence_id, settings).SerializeToString()
        return StreamEvent(EventKind.SNAPSHOT, sequence_id, payload)


def new_mock(
    snapshot: Mapping[str, Setting] | None = None,
    *,
    sequence_id: int = 0,
    origin: str = "core-agent",
    epoch: str | None = None,
) -> MockConfigStream:
    """A :class:`MockConfigStream`; see its docstring."""
    return MockConfigStream(snapshot, sequence_id=sequence_id, origin=origin, epoch=epoch)
