"""Definition of the config stream producer.

Each subscriber first receives a snapshot of every effective setting, then one update per changed
key with strictly increasing sequence ids. Events are serialized ``datadog.model.v1.ConfigEvent``
messages, built once and shared by every subscriber; a transport writes the bytes as they are.

A subscriber that does not keep up never blocks the config writer or the other subscribers: it is
marked lagging and later caught up from a bounded history, or sent a fresh snapshot when it fell
out of that history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["Component", "EventKind", "StreamEvent", "Subscription"]


class EventKind(StrEnum):
    SNAPSHOT = "snapshot"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event for the wire: ``payload`` is a serialized ``ConfigEvent``, shared, never copied."""

    kind: EventKind
    sequence_id: int
    payload: bytes


@runtime_checkable
class Subscription(Protocol):
    """One subscriber's ordered view of the stream."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    def events(self) -> AsyncIterator[StreamEvent]:
        """Snapshot first, then updates in order; ends when the subscription is closed."""
        ...

    def close(self) -> None:
        """Unsubscribe; idempotent. ``events()`` then ends."""
        ...


@runtime_checkable
class Component(Protocol):
    """Fans out config changes to subscribers. Must be used from the event loop that started it."""

    @property
    def origin(self) -> str:
        """Base name of the config file used, else ``core-agent``."""
        ...

    @property
    def subscriber_count(self) -> int: ...

    def subscribe(self, name: str) -> Subscription:
        """A new subscription; its first event is a snapshot."""
        ...
