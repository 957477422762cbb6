"""The ordering checks of the test client."""

from __future__ import annotations

from config_stream_client.accounting import (
    Ordering,
    StreamTally,
    record_progress,
    record_snapshot,
    record_update,
)


def _feed(events: list[tuple[str, int]]) -> tuple[StreamTally, list[Ordering]]:
    tally = StreamTally()
    seen = []
    for kind, seq in events:
        record = record_snapshot if kind == "snapshot" else record_update
        tally, finding = record(tally, seq)
        seen.append(finding.ordering)
        assert (finding.warning is None) == (finding.ordering is Ordering.IN_ORDER)
    return tally, seen


def test_snapshot_then_consecutive_updates_is_healthy() -> None:
    tally, seen = _feed([("snapshot", 7), ("update", 8), ("update", 9)])
    assert seen == [Ordering.IN_ORDER] * 3
    assert tally == StreamTally(snapshots=1, updates=2, last_sequence_id=9)
    assert tally.healthy
    assert tally.failure_reasons() == []


def test_no_snapshot_is_unhealthy() -> None:
    tally = StreamTally()
    assert not tally.healthy
    assert tally.failure_reasons() == ["no snapshot received"]


def test_jump_forward_is_a_gap_and_moves_the_cursor() -> None:
    tally, seen = _feed([("snapshot", 1), ("update", 4), ("update", 5)])
    assert seen == [Ordering.IN_ORDER, Ordering.GAP, Ordering.IN_ORDER]
    assert tally.gaps == 1
    assert tally.last_sequence_id == 5
    assert not tally.healthy
    assert tally.failure_reasons() == ["1 gap(s) in sequence ids"]


def test_gap_warning_names_expected_and_received_ids() -> None:
    tally, _ = record_snapshot(StreamTally(), 10)
    _, finding = record_update(tally, 13)
    assert finding.warning == "WARNING: gap: expected seq_id=11, got seq_id=13 (2 missing)"


def test_repeated_or_older_update_is_out_of_order_and_keeps_the_cursor() -> None:
    tally, seen = _feed([("snapshot", 5), ("update", 6), ("update", 6), ("update", 3), ("update", 7)])
    assert seen == [
        Ordering.IN_ORDER,
        Ordering.IN_ORDER,
        Ordering.OUT_OF_ORDER,
        Ordering.OUT_OF_ORDER,
        Ordering.IN_ORDER,
    ]
    assert tally.out_of_order == 2
    assert tally.updates == 4
    assert tally.last_sequence_id == 7


def test_update_before_any_snapshot_is_counted_as_out_of_order() -> None:
    tally, seen = _feed([("update", 1), ("snapshot", 1), ("update", 2)])
    assert seen[0] is Ordering.BEFORE_SNAPSHOT
    assert tally.out_of_order == 1
    assert tally.failure_reasons() == ["1 out-of-order sequence id(s)"]
    _, finding = record_update(StreamTally(), 1)
    assert finding.warning == "WARNING: update seq_id=1 received before any snapshot"


def test_resync_snapshot_may_move_forward_but_not_back() -> None:
    tally, seen = _feed([("snapshot", 5), ("snapshot", 9), ("update", 10), ("snapshot", 4)])
    assert seen == [Ordering.IN_ORDER, Ordering.IN_ORDER, Ordering.IN_ORDER, Ordering.OUT_OF_ORDER]
    assert tally.snapshots == 3
    assert tally.out_of_order == 1
    assert tally.last_sequence_id == 10


def test_snapshot_with_the_same_id_is_in_order() -> None:
    tally, seen = _feed([("snapshot", 3), ("snapshot", 3), ("update", 4)])
    assert seen == [Ordering.IN_ORDER] * 3
    assert tally.healthy


def test_filtered_updates_follow_their_previous_id() -> None:
    tally, _ = record_snapshot(StreamTally(), 4)
    tally, finding = record_update(tally, 9, previous=4)
    assert finding.ordering == Ordering.IN_ORDER and tally.last_sequence_id == 9
    tally, finding = record_update(tally, 10, previous=0)  # a core that ignores the filter: the next id
    assert finding.ordering == Ordering.IN_ORDER
    tally, finding = record_update(tally, 15, previous=12)
    assert finding.ordering == Ordering.GAP and tally.gaps == 1
    tally, finding = record_update(tally, 20, previous=0)
    assert finding.warning == "WARNING: gap: expected seq_id=16, got seq_id=20 (4 missing)"


def test_progress_moves_a_filtered_stream_and_shows_lost_updates_of_an_unfiltered_one() -> None:
    tally, _ = record_snapshot(StreamTally(), 4)
    moved, finding = record_progress(tally, 9, filtered=True)
    assert (finding.ordering, moved.last_sequence_id, moved.progress) == (Ordering.IN_ORDER, 9, 1)
    same, finding = record_progress(tally, 4, filtered=False)
    assert finding.ordering == Ordering.IN_ORDER and same.healthy
    lost, finding = record_progress(tally, 9, filtered=False)
    assert finding.ordering == Ordering.GAP and not lost.healthy
    assert finding.warning == "WARNING: gap: progress at seq_id=9, the last update was seq_id=4 (5 missing)"
    back, finding = record_progress(moved, 5, filtered=True)
    assert finding.ordering == Ordering.OUT_OF_ORDER and back.last_sequence_id == 9
    early, finding = record_progress(StreamTally(), 1, filtered=False)
    assert not early.healthy
    assert finding.ordering == Ordering.BEFORE_SNAPSHOT
