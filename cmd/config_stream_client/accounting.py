"""Ordering checks of a config stream, as pure functions over an immutable tally.

A stream is healthy when it starts with a snapshot and every update carries the sequence id that
follows the last one seen. A later snapshot (a resync) may move the cursor forward, never back.

A filtered stream skips the ids of other keys: there each update's ``previous_sequence_id`` must name
the last event seen (an unset one, 0, only for the next id). A progress event is the core's position:
a filtered stream moves to it; an unfiltered one receives every update, so a progress id beyond the
last update is a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["Finding", "Ordering", "StreamTally", "record_progress", "record_snapshot", "record_update"]


class Ordering(StrEnum):
    """How one event's sequence id relates to the stream so far."""

    IN_ORDER = "in-order"
    GAP = "gap"
    OUT_OF_ORDER = "out-of-order"
    BEFORE_SNAPSHOT = "before-snapshot"


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one event; ``warning`` is the line to print when it is not in order."""

    ordering: Ordering
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class StreamTally:
    """What a client has seen so far. ``last_sequence_id`` is None until the first snapshot."""

    snapshots: int = 0
    updates: int = 0
    gaps: int = 0
    out_of_order: int = 0
    last_sequence_id: int | None = None
    batches: int = 0
    progress: int = 0

    @property
    def healthy(self) -> bool:
        """A snapshot arrived and no sequence id was missing or out of order."""
        return self.snapshots > 0 and self.gaps == 0 and self.out_of_order == 0

    def failure_reasons(self) -> list[str]:
        """Why the stream is not healthy (empty when it is)."""
        reasons = []
        if self.snapshots == 0:
            reasons.append("no snapshot received")
        if self.gaps:
            reasons.append(f"{self.gaps} gap(s) in sequence ids")
        if self.out_of_order:
            reasons.append(f"{self.out_of_order} out-of-order sequence id(s)")
        return reasons


def record_snapshot(tally: StreamTally, sequence_id: int) -> tuple[StreamTally, Finding]:
    """Account for a snapshot: it (re)starts the stream at ``sequence_id`` unless that goes backwards."""
    last = tally.last_sequence_id
    if last is not None and sequence_id < last:
        warning = f"WARNING: out-of-order snapshot: seq_id={sequence_id} after seq_id={last}"
        counted = replace(tally, snapshots=tally.snapshots + 1, out_of_order=tally.out_of_order + 1)
        return counted, Finding(Ordering.OUT_OF_ORDER, warning)
    return replace(tally, snapshots=tally.snapshots + 1, last_sequence_id=sequence_id), Finding(
        Ordering.IN_ORDER
    )


def record_update(
    tally: StreamTally, sequence_id: int, previous: int | None = None
) -> tuple[StreamTally, Finding]:
    """Account for an update: expected ``last + 1``, or on a filtered stream (``previous``: its
    ``previous_sequence_id``) any later id whose ``previous`` is the last one seen; a jump forward is a
    gap, anything else out of order."""
    counted = replace(tally, updates=tally.updates + 1)
    last = tally.last_sequence_id
    if last is None:
        warning = f"WARNING: update seq_id={sequence_id} received before any snapshot"
        return replace(counted, out_of_order=counted.out_of_order + 1), Finding(
            Ordering.BEFORE_SNAPSHOT, warning
        )
    if sequence_id <= last:
        warning = f"WARNING: out-of-order update: seq_id={sequence_id} after seq_id={last}"
        return replace(counted, out_of_order=counted.out_of_order + 1), Finding(
            Ordering.OUT_OF_ORDER, warning
        )
    if sequence_id == last + 1 and previous in (None, 0, last):
        return replace(counted, last_sequence_id=sequence_id), Finding(Ordering.IN_ORDER)
    if previous is not None and previous == last:
        return replace(counted, last_sequence_id=sequence_id), Finding(Ordering.IN_ORDER)
    if previous:
        warning = (
            f"WARNING: gap: seq_id={sequence_id} follows seq_id={previous} on the core's side, "
            f"the last event seen was seq_id={last}"
        )
    else:
        missing = sequence_id - last - 1
        warning = f"WARNING: gap: expected seq_id={last + 1}, got seq_id={sequence_id} ({missing} missing)"
    return replace(counted, gaps=counted.gaps + 1, last_sequence_id=sequence_id), Finding(
        Ordering.GAP, warning
    )


def record_progress(tally: StreamTally, sequence_id: int, *, filtered: bool) -> tuple[StreamTally, Finding]:
    """Account for a progress event at ``sequence_id`` (see the module docstring)."""
    counted = replace(tally, progress=tally.progress + 1)
    last = tally.last_sequence_id
    if last is None:
        warning = f"WARNING: progress seq_id={sequence_id} received before any snapshot"
        return replace(counted, out_of_order=counted.out_of_order + 1), Finding(
            Ordering.BEFORE_SNAPSHOT, warning
        )
    if sequence_id < last:
        warning = f"WARNING: out-of-order progress: seq_id={sequence_id} after seq_id={last}"
        return replace(counted, out_of_order=counted.out_of_order + 1), Finding(
            Ordering.OUT_OF_ORDER, warning
        )
    if sequence_id == last or filtered:
        return replace(counted, last_sequence_id=sequence_id), Finding(Ordering.IN_ORDER)
    warning = (
        f"WARNING: gap: progress at seq_id={sequence_id}, the last update was seq_id={last} "
        f"({sequence_id - last} missing)"
    )
    return replace(counted, gaps=counted.gaps + 1, last_sequence_id=sequence_id), Finding(
        Ordering.GAP, warning
    )
