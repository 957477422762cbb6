"""Telemetry of the consumer (namespace ``configstream_consumer``) and the counters behind ``stats``."""

from __future__ import annotations

from dataclasses import dataclass

from comp.core.configstreamconsumer.def_ import ConsumerState, ConsumerStats
from comp.core.telemetry import def_ as telemetry_def

__all__ = ["NAMESPACE", "STATE_VALUES", "ConsumerMetrics"]

NAMESPACE = "configstream_consumer"
STATE_VALUES = {ConsumerState.DISCONNECTED: 0, ConsumerState.CONNECTING: 1, ConsumerState.READY: 2}
"""The values of the ``state`` gauge."""

# Outages and reconnections last longer than the core's calls: buckets up to 5 minutes.
_SECONDS_BUCKETS = [*telemetry_def.SECONDS_BUCKETS, 30.0, 60.0, 120.0, 300.0]


@dataclass
class _Counts:
    registrations: int = 0
    reconnects: int = 0
    snapshots: int = 0
    updates: int = 0
    gaps: int = 0
    stale_events_dropped: int = 0
    subscriber_overflows: int = 0
    invalid_settings: int = 0
    resumes: int = 0
    resumes_refused: int = 0
    batches: int = 0
    progress_events: int = 0
    stalls: int = 0
    epoch: str = ""
    last_error: str | None = None


class ConsumerMetrics:
    """Records each event both as an OpenTelemetry instrument and as a plain counter."""

    def __init__(self, telemetry: telemetry_def.Component) -> None:
        meter = telemetry.meter(NAMESPACE)
        n = NAMESPACE
        self._first_snapshot = meter.create_histogram(
            f"{n}.time_to_first_snapshot_seconds",
            unit="s",
            description="Time from start to the first applied snapshot",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
        )
        self._reconnect_delay = meter.create_histogram(
            f"{n}.reconnect_delay_seconds",
            unit="s",
            description="Backoff delay chosen before each reconnection attempt",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
        )
        self._reconnects = meter.create_counter(f"{n}.reconnects", description="Reconnection attempts")
        self._registrations = meter.create_counter(
            f"{n}.registrations", description="Successful registrations"
        )
        self._snapshots = meter.create_counter(f"{n}.snapshots", description="Snapshots applied")
        self._updates = meter.create_counter(f"{n}.updates", description="Updates applied")
        self._gaps = meter.create_counter(f"{n}.gaps", description="Sequence gaps (each causes a resync)")
        self._stale = meter.create_counter(
            f"{n}.stale_events_dropped", description="Updates at or below the last applied sequence id"
        )
        self._overflows = meter.create_counter(
            f"{n}.subscriber_overflows", description="Changes coalesced because a subscriber fell behind"
        )
        self._invalid = meter.create_counter(
            f"{n}.invalid_settings", description="Received settings skipped because they could not be read"
        )
        self._resumes = meter.create_counter(
            f"{n}.resumes", description="Reconnections that continued the view without a snapshot"
        )
        self._resumes_refused = meter.create_counter(
            f"{n}.resumes_refused", description="Reconnections that asked to resume and received a snapshot"
        )
        self._batches = meter.create_counter(
            f"{n}.batches", description="Batch messages applied (their updates count as updates)"
        )
        self._progress = meter.create_counter(f"{n}.progress_events", description="Progress events received")
        self._stalls = meter.create_counter(
            f"{n}.stalls", description="Streams dropped because they stopped sending events or progress"
        )
        self._last_seq = meter.create_gauge(f"{n}.last_sequence_id", description="Last applied sequence id")
        self._state = meter.create_gauge(f"{n}.state", description="0 disconnected, 1 connecting, 2 ready")
        self._counts = _Counts()
        # Exported at 0 from the start, so that increase() sees the first event.
        for counter in (
            self._reconnects,
            self._registrations,
            self._snapshots,
            self._updates,
            self._gaps,
            self._stale,
            self._overflows,
            self._invalid,
            self._resumes,
            self._resumes_refused,
            self._batches,
            self._progress,
            self._stalls,
        ):
            counter.add(0)

    def first_snapshot(self, seconds: float) -> None:
        self._first_snapshot.record(seconds)

    def reconnect_delay(self, seconds: float) -> None:
        self._reconnect_delay.record(seconds)

    def reconnect(self) -> None:
        self._counts.reconnects += 1
        self._reconnects.add(1)

    def registration(self) -> None:
        self._counts.registrations += 1
        self._registrations.add(1)

    def snapshot(self, sequence_id: int) -> None:
        self._counts.snapshots += 1
        self._snapshots.add(1)
        self._last_seq.set(sequence_id)

    def update(self, sequence_id: int) -> None:
        self._counts.updates += 1
        self._updates.add(1)
        self._last_seq.set(sequence_id)

    def batch(self) -> None:
        self._counts.batches += 1
        self._batches.add(1)

    def progress(self, sequence_id: int) -> None:
        self._counts.progress_events += 1
        self._progress.add(1)
        self._last_seq.set(sequence_id)

    def stall(self) -> None:
        self._counts.stalls += 1
        self._stalls.add(1)

    def gap(self) -> None:
        self._counts.gaps += 1
        self._gaps.add(1)

    def resume(self) -> None:
        self._counts.resumes += 1
        self._resumes.add(1)

    def resume_refused(self) -> None:
        self._counts.resumes_refused += 1
        self._resumes_refused.add(1)

    def epoch(self, epoch: str) -> None:
        self._counts.epoch = epoch

    def stale(self) -> None:
        self._counts.stale_events_dropped += 1
        self._stale.add(1)

    def overflow(self) -> None:
        self._counts.subscriber_overflows += 1
        self._overflows.add(1)

    def invalid_setting(self) -> None:
        self._counts.invalid_settings += 1
        self._invalid.add(1)

    def state(self, state: ConsumerState) -> None:
        self._state.set(STATE_VALUES[state])

    def failure(self, reason: str) -> None:
        self._counts.last_error = reason

    def stats(self, delays: tuple[float, ...]) -> ConsumerStats:
        c = self._counts
        return ConsumerStats(
            registrations=c.registrations,
            reconnects=c.reconnects,
            snapshots=c.snapshots,
            updates=c.updates,
            gaps=c.gaps,
            stale_events_dropped=c.stale_events_dropped,
            subscriber_overflows=c.subscriber_overflows,
            invalid_settings=c.invalid_settings,
            reconnect_delays=delays,
            last_error=c.last_error,
            resumes=c.resumes,
            resumes_refused=c.resumes_refused,
            epoch=c.epoch,
            batches=c.batches,
            progress_events=c.progress_events,
            stalls=c.stalls,
        )
