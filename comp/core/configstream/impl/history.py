"""The shared history of recent updates, bounded by a count and by serialized bytes.

Events hold consecutive sequence ids (the producer clears the history rather than leave a hole), so
the event with a given id is found by subtraction. Each event's payload is counted once, however many
subscribers also hold it.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator

from comp.core.configstream.def_ import StreamEvent

__all__ = ["EventHistory"]


class EventHistory:
    """At most ``max_events`` events and ``max_bytes`` payload bytes; the oldest go first.

    An event larger than ``max_bytes`` on its own is not kept (the history is then empty): a
    subscriber that needs it is sent a snapshot, as when it fell out of the history.
    """

    __slots__ = ("_bytes", "_events", "_max_bytes", "_max_events")

    def __init__(self, max_events: int, max_bytes: int) -> None:
        if max_events < 0 or max_bytes < 0:
            raise ValueError(f"need max_events >= 0 and max_bytes >= 0, got {max_events}, {max_bytes}")
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._events: deque[StreamEvent] = deque()
        self._bytes = 0

    @property
    def max_events(self) -> int:
        return self._max_events

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def bytes(self) -> int:
        """Payload bytes held now (at most :attr:`max_bytes`)."""
        return self._bytes

    @property
    def first_id(self) -> int:
        """Sequence id of the oldest event; only when not empty."""
        return self._events[0].sequence_id

    @property
    def last_id(self) -> int:
        """Sequence id of the newest event; only when not empty."""
        return self._events[-1].sequence_id

    def __len__(self) -> int:
        return len(self._events)

    def __bool__(self) -> bool:
        return bool(self._events)

    def __iter__(self) -> Iterator[StreamEvent]:
        return iter(self._events)

    def append(self, event: StreamEvent) -> None:
        """Keep ``event`` as the newest, dropping the oldest events beyond either bound."""
        size = len(event.payload)
        if size > self._max_bytes or self._max_events == 0:
            self.clear()
            return
        events = self._events
        events.append(event)
        self._bytes += size
        while len(events) > self._max_events or self._bytes > self._max_bytes:
            self._bytes -= len(events.popleft().payload)

    def clear(self) -> None:
        self._events.clear()
        self._bytes = 0

    def since(self, sequence_id: int) -> Iterator[StreamEvent]:
        """The events from ``sequence_id`` on (it must be between :attr:`first_id` and :attr:`last_id`)."""
        return itertools.islice(self._events, sequence_id - self._events[0].sequence_id, None)
