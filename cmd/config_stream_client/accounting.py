"""Ordering checks of a config stream, as pure functions over an immutable tally.

A stream is healthy when it starts with a snapshot and every update carries the sequence id that
follows the last one seen. A later snapshot (a resync) may move the cursor forward, never back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["Finding", "Ordering", "StreamTally", "record_snapshot", "record_update"]


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


def record_update(tally: StreamTally, sequence_id: int) -> tuple[StreamTally, Finding]:
    """Account for an update: expected ``last + 1``; a jump forward is a gap, anything else out of order."""
    counted = replace(tally, updates=tally.updates + 1)
    last = tally.last_sequence_id
    if last is None:
        warning = f"WARNING: update seq_id={sequence_id} received before any snapshot"
        return replace(counted, out_of_order=counted.out_of_order + 1), Finding(
            Ordering.BEFORE_SNAPSHOT, warning
        )
    if sequence_id == last + 1:
        return replace(counted, last_sequence_id=sequence_id), Finding(Ordering.IN_ORDER)
    if sequence_id > last + 1:
        missing = sequence_id - last - 1
        warning = f"WARNING: gap: expected seq_id={last + 1}, got seq_id={sequence_id} ({missing} missing)"
        return replace(counted, gaps=counted.gaps + 1, last_sequence_id=sequence_id), Finding(
            Ordering.GAP, warning
        )
    warning = f"WARNING: out-of-order update: seq_id={sequence_id} after seq_id={last}"
    return replace(counted, out_of_order=counted.out_of_order + 1), Finding(Ordering.OUT_OF_ORDER, warning)
