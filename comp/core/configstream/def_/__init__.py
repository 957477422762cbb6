"""Definition of the config stream producer.

Each subscriber first receives a snapshot of every effective setting, then one update per changed
key with strictly increasing sequence ids. Events are serialized ``datadog.model.v1.ConfigEvent``
messages, built once and shared by every subscriber; a transport writes the bytes as they are.

A subscriber that does not keep up never blocks the config writer or the other subscribers: it is
marked lagging and later caught up from a bounded history, or sent a fresh snapshot when it fell
out of that history.

Resume extension: the producer's ``epoch`` names its sequence id space (ids restart with the process).
A subscriber that passes ``resume=(epoch, sequence_id)`` receives snapshots carrying that epoch
(``ConfigSnapshot.epoch``); when the epoch is the producer's and every update after ``sequence_id`` is
still held, it receives no snapshot at all, only those updates and then live ones. A subscriber that
passes no ``resume`` receives exactly what the Go agent sends. ``Subscription.resumed`` tells whether
the resume point was accepted, so that a transport can say so before any event (there may be none).

Other extensions, each used only by a subscriber that asks for it (see ``Component.subscribe``):
batches of the updates already queued (``max_batch_updates``), a key filter (``key_filter``: its
snapshots, updates and resumed history carry only the matching keys, and each update carries the
sequence id of the event written before it on the stream), and progress events on an idle stream
(``progress``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol, runtime_checkable

from pkg.config.schema import MAX_KEY_CHARS

__all__ = [
    "MAX_FILTER_ENTRIES",
    "Component",
    "EventKind",
    "KeyFilter",
    "ResumePoint",
    "StreamEvent",
    "StreamStatus",
    "SubscriberStatus",
    "Subscription",
]


MAX_FILTER_ENTRIES = 1024
"""Most keys and prefixes a key filter may hold, together."""


class EventKind(StrEnum):
    SNAPSHOT = "snapshot"
    UPDATE = "update"
    BATCH = "batch"
    """Extension: consecutive updates in one message; ``sequence_id`` is the last one's."""
    PROGRESS = "progress"
    """Extension: the stream is idle at ``sequence_id``."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event for the wire: ``payload`` is a serialized ``ConfigEvent``, shared, never copied.

    ``key``: the setting an update is about ("" for other kinds), for key filters. ``count``: the
    updates it holds (a batch holds several; a snapshot or progress event none).
    """

    kind: EventKind
    sequence_id: int
    payload: bytes
    key: str = ""
    count: int = 1


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """The keys a subscriber wants: a key matches if it is one of ``keys``, or is one of ``prefixes``
    or starts with one followed by a dot (``apm_config`` matches ``apm_config.enabled``).

    Raises ValueError naming the entry and the limit when it is empty, longer than a key may be, or
    when there are more than :data:`MAX_FILTER_ENTRIES` entries.
    """

    keys: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        count = len(self.keys) + len(self.prefixes)
        if count > MAX_FILTER_ENTRIES:
            raise ValueError(f"filter has {count} keys and prefixes, the limit is {MAX_FILTER_ENTRIES}")
        for field_name, entries in (("filter.keys", self.keys), ("filter.prefixes", self.prefixes)):
            for index, entry in enumerate(entries):
                if not entry:
                    raise ValueError(f"{field_name}[{index}] is empty")
                if len(entry) > MAX_KEY_CHARS:
                    raise ValueError(
                        f"{field_name}[{index}] is too long: {len(entry)} characters, "
                        f"the limit is {MAX_KEY_CHARS}"
                    )

    def matches(self, key: str) -> bool:
        """Whether ``key`` is one the filter lets through."""
        if key in self.keys:
            return True
        return any(key == prefix or key.startswith(prefix + ".") for prefix in self.prefixes)


class ResumePoint(NamedTuple):
    """Where a reconnecting subscriber stands, as ``ConfigStreamRequest.resume_from`` carries it.

    ``epoch``: the one received with the last snapshot ("" for none yet: the subscriber only says it
    speaks the extension). ``sequence_id``: the last id applied, as the wire's int32.
    """

    epoch: str
    sequence_id: int


@dataclass(frozen=True, slots=True)
class SubscriberStatus:
    """One subscriber as ``core-agent status`` shows it.

    ``session_id``: the remote agent's session given to ``subscribe`` ("" if none). ``events_sent``:
    snapshots and updates handed to the transport. ``lagging``: it is behind now; ``times_lagging``,
    ``catch_ups``, ``resyncs``: how often it fell behind, was caught up from the history, was sent a
    fresh snapshot instead. ``resumed``: it started from its resume point without a snapshot.
    """

    name: str
    session_id: str
    events_sent: int
    lagging: bool
    times_lagging: int
    catch_ups: int
    resyncs: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """The producer as ``core-agent status`` shows it: its epoch, the last sequence id it handled, the
    history's use against its bounds, and every subscriber."""

    epoch: str
    sequence_id: int
    history_events: int
    history_max_events: int
    history_bytes: int
    history_max_bytes: int
    subscribers: tuple[SubscriberStatus, ...]


@runtime_checkable
class Subscription(Protocol):
    """One subscriber's ordered view of the stream."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def resumed(self) -> bool:
        """Whether ``subscribe`` accepted the resume point: the subscription starts with the missed
        updates (maybe none) instead of a snapshot. False without a resume point, or when refused."""
        ...

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
    def epoch(self) -> str:
        """Random id of this producer's sequence id space, fixed for its lifetime."""
        ...

    @property
    def subscriber_count(self) -> int: ...

    def status(self) -> StreamStatus:
        """What the producer and its subscribers are doing now."""
        ...

    def subscribe(
        self,
        name: str,
        *,
        resume: tuple[str, int] | None = None,
        session_id: str = "",
        max_batch_updates: int = 0,
        key_filter: KeyFilter | None = None,
        progress: bool = False,
    ) -> Subscription:
        """A new subscription; its first event is a snapshot, unless it resumes. ``session_id`` only
        labels it in :meth:`status`.

        ``max_batch_updates`` > 1: updates already queued when the next write starts go out together
        as one ``BATCH`` event (at most that many, and at most the producer's own bound); a lone update
        is never held back. ``key_filter``: only matching keys, in snapshots, updates and resumes, and
        every update carries ``previous_sequence_id``. ``progress``: an idle stream gets a
        ``PROGRESS`` event at the producer's interval.

        ``resume``: a :class:`ResumePoint` (or an ``(epoch, sequence_id)`` tuple). With it, snapshots
        carry the epoch, and when the epoch is this producer's and the history holds every update
        after ``sequence_id`` (or none happened), the subscription starts with those updates instead
        of a snapshot. Without it, snapshots carry no epoch.
        """
        ...
