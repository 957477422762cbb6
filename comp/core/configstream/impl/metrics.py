"""The config stream producer's instruments (namespace ``configstream``)."""

from __future__ import annotations

from opentelemetry.metrics import Meter

__all__ = ["TELEMETRY_NAMESPACE", "ResumeRefusal", "ResyncCause", "StreamMetrics"]

TELEMETRY_NAMESPACE = "configstream"


class ResyncCause:
    """Values of the ``cause`` attribute of ``configstream.resyncs``."""

    GAP = "gap"
    """An update arrived whose id is not the subscriber's last + 1 (missed or out-of-order change)."""
    FELL_BEHIND = "fell_behind"
    """A lagging subscriber's next update is no longer in the history."""


class ResumeRefusal:
    """Values of the ``cause`` attribute of ``configstream.resume_refused``."""

    EPOCH = "epoch"
    """The resume point names another sequence id space (the core agent restarted since)."""
    HISTORY = "history"
    """Some update after the resume point is no longer in the history."""
    FUTURE = "future"
    """The resume point is past the last change this producer knows of."""


class StreamMetrics:
    """Every instrument of the producer, created once from the component's meter."""

    def __init__(self, meter: Meter) -> None:
        p = TELEMETRY_NAMESPACE
        self.subscribers = meter.create_gauge(f"{p}.subscribers", description="Open subscriptions")
        self.snapshots_sent = meter.create_counter(
            f"{p}.snapshots_sent", description="Snapshots handed to subscribers"
        )
        self.updates_sent = meter.create_counter(
            f"{p}.updates_sent", description="Updates handed to subscribers"
        )
        self.discontinuities = meter.create_counter(
            f"{p}.discontinuities",
            description="Updates whose id did not follow a subscriber's last one (answered with a snapshot)",
        )
        self.dropped_updates = meter.create_counter(
            f"{p}.dropped_updates",
            description="Updates not queued for a lagging subscriber (recovered from history or a snapshot)",
        )
        self.lagging = meter.create_counter(
            f"{p}.lagging", description="Times a subscriber's queue was full and it was marked lagging"
        )
        self.catch_ups = meter.create_counter(
            f"{p}.catch_ups", description="Lagging subscribers brought up to date from the history"
        )
        self.resyncs = meter.create_counter(
            f"{p}.resyncs", description="Snapshots sent again to a subscriber, by cause (gap, fell_behind)"
        )
        self.conversion_errors = meter.create_counter(
            f"{p}.conversion_errors", description="Values sent as null as they cannot be converted, by key"
        )
        self.resumes = meter.create_counter(
            f"{p}.resumes", description="Subscriptions resumed after their resume point, without a snapshot"
        )
        self.resume_refused = meter.create_counter(
            f"{p}.resume_refused",
            description="Resume points refused (answered with a snapshot), by cause (epoch, history, future)",
        )
        self.snapshot_builds = meter.create_counter(
            f"{p}.snapshot_builds", description="Snapshots built (one per sequence id, shared by subscribers)"
        )
