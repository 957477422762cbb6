"""Fan-out of view changes to subscribers, none of which can slow the stream down.

Each subscriber has a bounded :class:`asyncio.Queue`. Publishing never waits: when a subscriber's
queue is full, its further changes go to an overflow map keyed by key, where successive changes of
one key merge into one event (the oldest pending ``old``, the latest ``new`` and source). The
overflow map holds at most one event per key, so its size is bounded by the size of the
configuration. The subscriber receives its queued events first, then the merged ones: values in
between may be skipped, the latest value of every key never is, and each merge is counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

from comp.core.configstreamconsumer.def_ import ChangeEvent, Subscription

__all__ = ["KeyFilter", "SubscriptionHub"]


class KeyFilter:
    """Matches a key in ``keys`` or starting with ``prefix``; everything when neither is given."""

    def __init__(self, keys: Collection[str] | None, prefix: str | None) -> None:
        if isinstance(keys, str):
            raise TypeError(f"keys must be a collection of keys, not the string {keys!r}")
        self._keys = frozenset(keys) if keys is not None else None
        self._prefix = prefix

    def matches(self, key: str) -> bool:
        if self._keys is None and self._prefix is None:
            return True
        if self._keys is not None and key in self._keys:
            return True
        return self._prefix is not None and key.startswith(self._prefix)


class _Subscription:
    """One subscriber's queue; see the module docstring for what happens on overflow."""

    def __init__(
        self,
        key_filter: KeyFilter,
        queue_size: int,
        on_close: Callable[[_Subscription], None],
        on_overflow: Callable[[], None],
    ) -> None:
        self._filter = key_filter
        # None wakes a reader waiting on an empty queue when the subscription closes.
        self._queue: asyncio.Queue[ChangeEvent | None] = asyncio.Queue(maxsize=queue_size)
        self._overflow: dict[str, ChangeEvent] = {}
        self._closed = False
        self._on_close = on_close
        self._on_overflow = on_overflow

    def push(self, event: ChangeEvent) -> None:
        if self._closed or not self._filter.matches(event.key):
            return
        if not self._overflow and not self._queue.full():
            self._queue.put_nowait(event)
            return
        self._on_overflow()
        pending = self._overflow.pop(event.key, None)
        if pending is not None:
            event = ChangeEvent(event.key, pending.old, event.new, event.source)
        self._overflow[event.key] = event  # re-inserted last: merged events keep the order of changes

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> ChangeEvent:
        while True:
            if not self._queue.empty():
                item = self._queue.get_nowait()
            elif self._overflow:
                key = next(iter(self._overflow))
                return self._overflow.pop(key)
            elif self._closed:
                raise StopAsyncIteration
            else:
                item = await self._queue.get()
            if item is not None:
                return item

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_close(self)
        if not self._queue.full():
            self._queue.put_nowait(None)


class SubscriptionHub:
    """The set of live subscriptions. Use from the event loop only."""

    def __init__(self, queue_size: int, on_overflow: Callable[[], None] = lambda: None) -> None:
        if queue_size < 1:
            raise ValueError(f"invalid subscriber queue size: {queue_size!r}, expected an integer >= 1")
        self._queue_size = queue_size
        self._on_overflow = on_overflow
        self._subscriptions: list[_Subscription] = []
        self._closed = False

    @property
    def count(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, keys: Collection[str] | None = None, prefix: str | None = None) -> Subscription:
        """A new subscription receiving the events published from now on (ended at once if closed)."""
        sub = _Subscription(KeyFilter(keys, prefix), self._queue_size, self._remove, self._on_overflow)
        if self._closed:
            sub.close()
        else:
            self._subscriptions.append(sub)
        return sub

    def publish(self, events: Collection[ChangeEvent]) -> None:
        """Hand ``events`` to every matching subscriber, in order; never waits."""
        for sub in list(self._subscriptions):
            for event in events:
                sub.push(event)

    def close(self) -> None:
        """End every subscription (pending events are still delivered); later ones end at once."""
        self._closed = True
        for sub in list(self._subscriptions):
            sub.close()

    def _remove(self, sub: _Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
