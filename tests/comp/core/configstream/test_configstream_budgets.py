"""Byte budgets of the stream: the shared history, each subscriber's queue, the largest event."""

from __future__ import annotations

import logging

import pytest

from comp.core.configstream.def_ import EventKind, StreamEvent
from comp.core.configstream.impl.history import EventHistory
from comp.core.configstream.impl.metrics import StreamMetrics, stream_metrics
from comp.core.configstream.impl.producer import ConfigStreamProducer
from comp.core.configstream.impl.subscription import StreamSubscription
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.change import ConfigChange
from pkg.config.model import LayeredConfig
from pkg.config.sources import Source
from pkg.protoconv.configevents import update_event
from tests.comp.core.configstream.configstream_helpers import (
    View,
    counter,
    decode,
    handed_over,
    state_of,
    take,
)
from tests.comp.core.configstream.test_configstream_producer import StartProducer

RUNTIME = Source.AGENT_RUNTIME


def event(sequence_id: int, size: int) -> StreamEvent:
    return StreamEvent(EventKind.UPDATE, sequence_id, b"x" * size)


class _Hub:
    """What a subscription asks of its producer, doing nothing: the tests fill the queue by hand."""

    def replenish(self, subscription: StreamSubscription) -> None:
        pass

    def remove(self, subscription: StreamSubscription) -> None:
        pass


def subscription(queue_size: int, queue_max_bytes: int) -> tuple[StreamSubscription, StreamMetrics]:
    metrics = StreamMetrics()
    sub = StreamSubscription(
        1, "agent", _Hub(), metrics, queue_size=queue_size, queue_max_bytes=queue_max_bytes
    )
    sub.cursor = 0
    return sub, metrics


# --- the history ---------------------------------------------------------------------------------


def test_history_holds_exactly_its_byte_budget() -> None:
    history = EventHistory(max_events=100, max_bytes=300)
    for sequence_id in (1, 2, 3):
        history.append(event(sequence_id, 100))
    assert (len(history), history.bytes, history.first_id) == (3, 300, 1)


def test_one_byte_over_the_history_budget_drops_the_oldest() -> None:
    history = EventHistory(max_events=100, max_bytes=300)
    for sequence_id in (1, 2):
        history.append(event(sequence_id, 100))
    history.append(event(3, 101))
    assert [e.sequence_id for e in history] == [2, 3]
    assert history.bytes == 201


def test_the_count_still_bounds_the_history_and_its_bytes_follow() -> None:
    history = EventHistory(max_events=2, max_bytes=10_000)
    for sequence_id in (1, 2, 3):
        history.append(event(sequence_id, 10 * sequence_id))
    assert [e.sequence_id for e in history] == [2, 3]
    assert history.bytes == 50


def test_an_event_larger_than_the_history_budget_empties_it() -> None:
    # Kept ids must stay consecutive up to the newest: without the newest, nothing can be kept.
    history = EventHistory(max_events=100, max_bytes=300)
    history.append(event(1, 100))
    history.append(event(2, 301))
    assert (len(history), history.bytes) == (0, 0)
    history.append(event(3, 300))
    assert (history.first_id, history.last_id, history.bytes) == (3, 3, 300)


def test_history_since_starts_at_the_wanted_id() -> None:
    history = EventHistory(max_events=10, max_bytes=1000)
    for sequence_id in range(5, 10):
        history.append(event(sequence_id, 1))
    assert [e.sequence_id for e in history.since(7)] == [7, 8, 9]


def test_negative_history_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes >= 0"):
        EventHistory(max_events=1, max_bytes=-1)


# --- a subscriber's queue ------------------------------------------------------------------------


def test_queue_takes_events_up_to_exactly_its_byte_budget() -> None:
    sub, metrics = subscription(queue_size=100, queue_max_bytes=300)
    for sequence_id in (1, 2, 3):
        sub.offer(event(sequence_id, 100))
    assert (sub.pending, sub.queued_bytes, sub.lagging) == (3, 300, False)
    assert metrics.lagging == 0


def test_one_byte_over_the_queue_budget_marks_the_subscriber_lagging() -> None:
    sub, metrics = subscription(queue_size=100, queue_max_bytes=300)
    sub.offer(event(1, 100))
    sub.offer(event(2, 100))
    sub.offer(event(3, 101))
    assert (sub.pending, sub.queued_bytes, sub.cursor, sub.lagging) == (2, 200, 2, True)
    assert (metrics.lagging, metrics.dropped_updates) == (1, 1)


def test_the_count_still_bounds_the_queue() -> None:
    sub, metrics = subscription(queue_size=2, queue_max_bytes=10_000)
    for sequence_id in (1, 2, 3):
        sub.offer(event(sequence_id, 1))
    assert (sub.pending, sub.lagging, metrics.lagging) == (2, True, 1)


def test_an_empty_queue_takes_one_event_larger_than_its_budget() -> None:
    sub, _ = subscription(queue_size=100, queue_max_bytes=300)
    sub.offer(event(1, 1000))
    assert (sub.pending, sub.queued_bytes, sub.lagging) == (1, 1000, False)
    sub.offer(event(2, 1))
    assert sub.lagging


async def test_taking_events_gives_their_bytes_back() -> None:
    sub, _ = subscription(queue_size=100, queue_max_bytes=300)
    for sequence_id in (1, 2, 3):
        sub.offer(event(sequence_id, 100))
    events = sub.events()
    await take(events, 2)
    assert (sub.pending, sub.queued_bytes) == (1, 100)
    sub.offer(event(4, 200))
    assert (sub.pending, sub.queued_bytes, sub.lagging) == (2, 300, False)
    sub.close()
    assert sub.queued_bytes == 0


def test_fill_stops_at_the_byte_budget_and_moves_the_cursor() -> None:
    sub, _ = subscription(queue_size=100, queue_max_bytes=250)
    sub.fill(event(sequence_id, 100) for sequence_id in range(10, 20))
    assert [e.sequence_id for e in sub.queue] == [10, 11]
    assert (sub.cursor, sub.queued_bytes) == (11, 200)


# --- through the producer ------------------------------------------------------------------------


def payload_size(key: str, value: str, sequence_id: int) -> int:
    change = ConfigChange(key, None, value, RUNTIME, sequence_id)
    return len(update_event("core-agent", change).SerializeToString())


async def test_queue_bytes_mark_a_subscriber_lagging_then_it_catches_up_from_history(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    value = "v" * 1000
    producer = await start_producer(config, queue_max_bytes=3 * payload_size("custom.blob", value, 50))
    sub = producer.subscribe("slow")
    assert isinstance(sub, StreamSubscription)
    events = sub.events()
    view = View()
    view.apply((await take(events))[0])
    for i in range(6):  # same size each (ids stay below 128: one-byte varints)
        config.set("custom.blob", f"{i}" + value[1:], RUNTIME)
    await handed_over()
    assert (sub.pending, sub.lagging) == (3, True)
    assert counter(telemetry, "lagging") == 1

    await view.follow(events, until=config.sequence_id)
    assert view.kinds == [EventKind.SNAPSHOT, *[EventKind.UPDATE] * 6]
    assert view.settings == state_of(config)
    assert counter(telemetry, "catch_ups") == 1
    assert counter(telemetry, "resyncs", cause="fell_behind") == 0


async def test_history_bytes_bound_what_a_lagging_subscriber_can_catch_up_on(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    value = "v" * 1000
    size = payload_size("custom.blob", value, 50)
    producer = await start_producer(config, queue_size=1, history_max_bytes=3 * size)
    events = producer.subscribe("slow").events()
    view = View()
    view.apply((await take(events))[0])
    for i in range(6):
        config.set("custom.blob", f"{i}" + value[1:], RUNTIME)
    await handed_over()
    assert (producer.history_length, producer.history_bytes) == (3, 3 * size)

    await view.follow(events, until=config.sequence_id)
    # It queued the first update, missed the second, which the history no longer holds: a snapshot.
    assert view.kinds == [EventKind.SNAPSHOT, EventKind.UPDATE, EventKind.SNAPSHOT]
    assert view.settings == state_of(config)
    assert counter(telemetry, "resyncs", cause="fell_behind") == 1


async def test_an_update_larger_than_a_client_accepts_is_replaced_by_a_snapshot(
    config: LayeredConfig, telemetry: MockTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    producer = ConfigStreamProducer(
        config,
        stream_metrics(telemetry.meter("configstream")),
        history_size=100,
        queue_size=100,
        max_event_bytes=2000,
    )
    await producer.start()
    try:
        reading = producer.subscribe("reading").events()
        behind = producer.subscribe("behind").events()
        reading_view, behind_view = View(), View()
        reading_view.apply((await take(reading))[0])
        behind_view.apply((await take(behind))[0])
        config.set("custom.small", "before", RUNTIME)
        reading_view.apply((await take(reading))[0])  # "behind" leaves it in its queue
        assert producer.history_length == 1

        with caplog.at_level(logging.ERROR):
            config.set("custom.blob", "x" * 3000, RUNTIME)  # an update of more than 2000 bytes
            await handed_over()
        assert counter(telemetry, "oversize_events") == 1
        assert producer.history_length == 0, "a catch-up cannot span the missing update"
        assert "is 3" in caplog.text and "more than the 2000 a client accepts" in caplog.text
        assert "'custom.blob'" in caplog.text

        config.unset_for_source("custom.blob", RUNTIME)  # the snapshot sent instead fits again
        await handed_over()
        await reading_view.follow(reading, until=config.sequence_id)
        await behind_view.follow(behind, until=config.sequence_id)
        assert reading_view.kinds == [EventKind.SNAPSHOT, EventKind.UPDATE, EventKind.SNAPSHOT]
        assert behind_view.kinds == [EventKind.SNAPSHOT, EventKind.SNAPSHOT], "the snapshot supersedes"
        for view in (reading_view, behind_view):
            assert view.settings == state_of(config)
        assert counter(telemetry, "resyncs", cause="oversize") == 2
        assert producer.subscriber_count == 2
    finally:
        await producer.stop()


async def test_a_snapshot_larger_than_a_client_accepts_is_logged_and_counted(
    config: LayeredConfig, telemetry: MockTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    config.set("custom.blob", "x" * 3000, RUNTIME)
    producer = ConfigStreamProducer(
        config,
        stream_metrics(telemetry.meter("configstream")),
        history_size=100,
        queue_size=100,
        max_event_bytes=2000,
    )
    await producer.start()
    try:
        with caplog.at_level(logging.ERROR):
            (snapshot,) = await take(producer.subscribe("agent").events())
        assert decode(snapshot).WhichOneof("event") == "snapshot"
        assert counter(telemetry, "oversize_events") == 1
        assert "the snapshot at" in caplog.text and "more than the 2000 a client accepts" in caplog.text
    finally:
        await producer.stop()


def test_producer_refuses_a_queue_budget_below_one_byte(config: LayeredConfig) -> None:
    with pytest.raises(ValueError, match="queue_max_bytes"):
        ConfigStreamProducer(config, StreamMetrics(), history_size=1, queue_size=1, queue_max_bytes=0)
