"""The config stream producer's telemetry (namespace ``configstream``).

The producer keeps its counts as plain integers: they are bumped for every event handed to every
subscriber, where a synchronous OpenTelemetry ``Counter.add`` (a lock, an attribute lookup, an
aggregation) would cost several times what the rest of the delivery does. Observable instruments
read the counts when the metrics are collected (a scrape of ``/metrics``), under the names and with
the meaning the synchronous instruments had: monotonic counters (``configstream_updates_sent_total``
in Prometheus), the ``subscribers`` gauge, and counts by attribute (``resyncs`` by ``cause``). Every
count is exported from the start, at 0, for each of its known attribute values (the causes), so that
``increase()`` sees the first event; counts by key appear with their first key.

Counts are written on the producer's event loop and read on the collecting thread: each read is of one
int or one copy of a dict, which the GIL keeps whole.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Final

from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["TELEMETRY_NAMESPACE", "ResumeRefusal", "ResyncCause", "StreamMetrics", "stream_metrics"]

TELEMETRY_NAMESPACE = "configstream"


class ResyncCause:
    """Values of the ``cause`` attribute of ``configstream.resyncs``."""

    GAP = "gap"
    """An update arrived whose id is not the subscriber's last + 1 (missed or out-of-order change)."""
    FELL_BEHIND = "fell_behind"
    """A lagging subscriber's next update is no longer in the history."""
    OVERSIZE = "oversize"
    """An update was larger than a client accepts: a snapshot is sent in its place."""


class ResumeRefusal:
    """Values of the ``cause`` attribute of ``configstream.resume_refused``."""

    EPOCH = "epoch"
    """The resume point names another sequence id space (the core agent restarted since)."""
    HISTORY = "history"
    """Some update after the resume point is no longer in the history."""
    FUTURE = "future"
    """The resume point is past the last change this producer knows of."""


class StreamMetrics:
    """The producer's counts, exported by :func:`stream_metrics`. Bumped in place
    (``metrics.updates_sent += 1``), or by the methods for counts by attribute."""

    __slots__ = (
        "batches_sent",
        "catch_ups",
        "conversion_errors",
        "discontinuities",
        "dropped_updates",
        "lagging",
        "oversize_events",
        "progress_sent",
        "resume_refused",
        "resumes",
        "resyncs",
        "snapshot_builds",
        "snapshots_sent",
        "subscribers",
        "updates_sent",
    )

    def __init__(self) -> None:
        self.subscribers: int | None = None
        """Open subscriptions (a gauge: the last value set; None until the producer starts)."""
        self.snapshots_sent = 0
        self.updates_sent = 0
        self.discontinuities = 0
        self.dropped_updates = 0
        self.lagging = 0
        self.catch_ups = 0
        self.resumes = 0
        self.snapshot_builds = 0
        self.oversize_events = 0
        self.batches_sent = 0
        """Batch messages (each holding several updates, also counted in ``updates_sent``)."""
        self.progress_sent = 0
        self.resyncs: dict[str, int] = {}
        """By cause (:class:`ResyncCause`)."""
        self.conversion_errors: dict[str, int] = {}
        """By key."""
        self.resume_refused: dict[str, int] = {}
        """By cause (:class:`ResumeRefusal`)."""

    def add_resync(self, cause: str) -> None:
        self.resyncs[cause] = self.resyncs.get(cause, 0) + 1

    def add_conversion_error(self, key: str) -> None:
        self.conversion_errors[key] = self.conversion_errors.get(key, 0) + 1

    def add_resume_refused(self, cause: str) -> None:
        self.resume_refused[cause] = self.resume_refused.get(cause, 0) + 1


# (field, description, attribute name for a count by attribute)
_COUNTERS: Final[tuple[tuple[str, str, str | None], ...]] = (
    ("snapshots_sent", "Snapshots handed to subscribers", None),
    ("updates_sent", "Updates handed to subscribers", None),
    (
        "discontinuities",
        "Updates whose id did not follow a subscriber's last one (answered with a snapshot)",
        None,
    ),
    (
        "dropped_updates",
        "Updates not queued for a lagging subscriber (recovered from history or a snapshot)",
        None,
    ),
    ("lagging", "Times a subscriber's queue was full and it was marked lagging", None),
    ("catch_ups", "Lagging subscribers brought up to date from the history", None),
    ("resyncs", "Snapshots sent again to a subscriber, by cause (gap, fell_behind, oversize)", "cause"),
    ("conversion_errors", "Values sent as null as they cannot be converted, by key", "key"),
    ("resumes", "Subscriptions resumed after their resume point, without a snapshot", None),
    (
        "resume_refused",
        "Resume points refused (answered with a snapshot), by cause (epoch, history, future)",
        "cause",
    ),
    ("batches_sent", "Batch messages handed to subscribers (their updates count in updates_sent)", None),
    ("progress_sent", "Progress events handed to subscribers on idle streams", None),
    ("snapshot_builds", "Snapshots built (one per sequence id, shared by subscribers)", None),
    (
        "oversize_events",
        "Events larger than agent_ipc.grpc_max_message_size (updates replaced by a snapshot)",
        None,
    ),
)

# The attribute values a count by attribute is exported with (at 0) before its first event.
_KNOWN_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "resyncs": (ResyncCause.GAP, ResyncCause.FELL_BEHIND, ResyncCause.OVERSIZE),
    "resume_refused": (ResumeRefusal.EPOCH, ResumeRefusal.HISTORY, ResumeRefusal.FUTURE),
}

_Callback = Callable[[CallbackOptions], Iterable[Observation]]

# The SDK hands back the first instrument registered under a name, with its callbacks: every producer
# of one meter must share one set of counts, as they shared the synchronous counters before.
_by_meter: weakref.WeakKeyDictionary[Meter, StreamMetrics] = weakref.WeakKeyDictionary()
_by_meter_lock = threading.Lock()


def stream_metrics(meter: Meter) -> StreamMetrics:
    """The counts exported through ``meter``: created, with their instruments, on the first call for
    a meter; the same object afterwards."""
    with _by_meter_lock:
        metrics = _by_meter.get(meter)
        if metrics is None:
            metrics = StreamMetrics()
            _register(meter, metrics)
            _by_meter[meter] = metrics
        return metrics


def _register(meter: Meter, metrics: StreamMetrics) -> None:
    p = TELEMETRY_NAMESPACE
    meter.create_observable_gauge(
        f"{p}.subscribers", callbacks=[_observe_gauge(metrics)], description="Open subscriptions"
    )
    for field, description, attribute in _COUNTERS:
        if attribute is None:
            callback = _observe_count(metrics, field)
        else:
            callback = _observe_by(metrics, field, attribute)
        meter.create_observable_counter(f"{p}.{field}", callbacks=[callback], description=description)


def _observe_gauge(metrics: StreamMetrics) -> _Callback:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        value = metrics.subscribers
        return () if value is None else (Observation(value),)

    return observe


def _observe_count(metrics: StreamMetrics, field: str) -> _Callback:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        value: int = getattr(metrics, field)
        return (Observation(value),)

    return observe


def _observe_by(metrics: StreamMetrics, field: str, attribute: str) -> _Callback:
    known = dict.fromkeys(_KNOWN_VALUES.get(field, ()), 0)

    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        counts: dict[str, int] = known | getattr(metrics, field).copy()
        return [Observation(value, {attribute: name}) for name, value in counts.items()]

    return observe
