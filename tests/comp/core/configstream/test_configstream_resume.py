"""The resume extension of the producer: epoch, snapshots carrying it, resuming from the history."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from comp.core.configstream.def_ import EventKind, ResumePoint, StreamEvent
from comp.core.configstream.impl.producer import ConfigStreamProducer
from comp.core.configstream.impl.subscription import StreamSubscription
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.model import LayeredConfig
from pkg.config.sources import Source
from pkg.protoconv.configevents import snapshot_epoch_suffix, snapshot_event, wire_sequence_id
from tests.comp.core.configstream.configstream_helpers import (
    HeldConfig,
    View,
    counter,
    decode,
    handed_over,
    state_of,
    take,
)

RUNTIME = Source.AGENT_RUNTIME
EXTENSION_ONLY = ResumePoint("", 0)
"""What a client that speaks the extension sends on its first connection."""

StartProducer = Callable[..., Awaitable[ConfigStreamProducer]]


def reference_snapshot(producer: ConfigStreamProducer, config: LayeredConfig) -> bytes:
    """The snapshot as the producer sent it before the extension existed."""
    settings, sequence_id = config.flattened_with_sequence_id()
    return snapshot_event(producer.origin, sequence_id, settings).SerializeToString()


async def nothing_queued(events: AsyncIterator[StreamEvent]) -> asyncio.Task[StreamEvent]:
    """Start reading ``events`` and check that nothing is delivered yet; returns the pending read."""
    reader = asyncio.ensure_future(anext(events))
    await handed_over()
    await asyncio.sleep(0)  # let the reader run its replenish and block
    assert not reader.done()
    return reader


async def test_epoch_is_a_random_id_per_producer(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    first = await start_producer(config)
    second = await start_producer(config)
    assert uuid.UUID(hex=first.epoch).version == 4
    assert first.epoch != second.epoch


async def test_without_resume_the_snapshot_is_byte_identical_to_before(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    speaking = producer.subscribe("new-client", resume=EXTENSION_ONLY).events()
    (with_epoch,) = await take(speaking)  # built first: the plain one must not be affected by it
    (plain,) = await take(producer.subscribe("go-client").events())
    assert plain.payload == reference_snapshot(producer, config)
    assert decode(plain).snapshot.epoch == ""
    assert with_epoch.payload != plain.payload


async def test_a_client_speaking_the_extension_gets_the_epoch_in_the_shared_snapshot(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    (plain,) = await take(producer.subscribe("go-client").events())
    events = await asyncio.gather(
        *(take(producer.subscribe(f"new-{i}", resume=EXTENSION_ONLY).events()) for i in range(5))
    )
    payloads = {id(e[0].payload) for e in events}
    assert len(payloads) == 1  # built once, shared
    event = events[0][0]
    assert (event.kind, event.sequence_id) == (EventKind.SNAPSHOT, plain.sequence_id)
    assert event.payload == plain.payload + snapshot_epoch_suffix(producer.epoch)
    expected = decode(plain)
    expected.snapshot.epoch = producer.epoch
    assert decode(event) == expected  # the full snapshot plus the epoch
    assert counter(telemetry, "snapshot_builds") == 1
    # An empty epoch is not a resume attempt: nothing is counted.
    assert counter(telemetry, "resumes") == 0
    assert counter(telemetry, "resume_refused", cause="epoch") == 0


async def test_resync_snapshots_carry_the_epoch_too(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config, queue_size=1, history_size=0)
    events = producer.subscribe("new", resume=EXTENSION_ONLY).events()
    await take(events)
    for i in range(3):
        config.set("custom.key", i, RUNTIME)
    await handed_over()
    _, resync = await take(events, 2)
    assert resync.kind is EventKind.SNAPSHOT
    assert decode(resync).snapshot.epoch == producer.epoch
    assert decode(resync).snapshot.sequence_id == config.sequence_id
    assert counter(telemetry, "resyncs", cause="fell_behind") == 1


@pytest.mark.parametrize("queue_size", [1000, 2])
async def test_resume_within_history_sends_only_the_missed_updates_in_order(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry, queue_size: int
) -> None:
    producer = await start_producer(config, queue_size=queue_size)
    first = producer.subscribe("agent", resume=EXTENSION_ONLY)
    events = first.events()
    view = View()
    (snapshot,) = await take(events)
    view.apply(snapshot)
    epoch = decode(snapshot).snapshot.epoch
    config.set("log_level", "debug", RUNTIME)
    view.apply((await take(events))[0])
    first.close()  # the client goes away; the history is kept while nobody is subscribed
    assert producer.subscriber_count == 0

    for i in range(5):
        config.set(f"custom.key{i}", i, RUNTIME)
    await handed_over()
    assert view.sequence_id is not None
    resumed = producer.subscribe("agent", resume=ResumePoint(epoch, view.sequence_id))
    assert isinstance(resumed, StreamSubscription)
    events = resumed.events()
    view.apply((await take(events))[0])
    config.set("custom.live", "while catching up", RUNTIME)
    await handed_over()
    # With a small queue the rest is still owed from the history: the live update is not queued.
    assert resumed.resuming is (queue_size < 5)
    await view.follow(events, until=config.sequence_id)
    assert view.kinds == [EventKind.SNAPSHOT, *[EventKind.UPDATE] * 7]
    assert view.settings == state_of(config)
    assert (resumed.lagging, resumed.resuming) == (False, False)
    assert counter(telemetry, "resumes") == 1
    assert counter(telemetry, "catch_ups") == 0
    assert counter(telemetry, "dropped_updates") == 0
    assert counter(telemetry, "snapshots_sent") == 1

    config.set("custom.live", "after", RUNTIME)  # back to live delivery
    view.apply((await take(events))[0])
    assert view.settings["custom.live"] == ("after", "agent-runtime")


async def test_resume_with_nothing_missed_waits_for_the_next_update(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    resume = ResumePoint(producer.epoch, wire_sequence_id(config.sequence_id))
    events = producer.subscribe("agent", resume=resume).events()
    reader = await nothing_queued(events)
    config.set("log_level", "warn", RUNTIME)
    async with asyncio.timeout(5):
        event = await reader
    assert (event.kind, event.sequence_id) == (EventKind.UPDATE, config.sequence_id)
    assert counter(telemetry, "resumes") == 1


async def test_resume_from_a_snapshot_taken_ahead_of_the_loop(
    start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    config = HeldConfig()
    producer = await start_producer(config)
    config.release(*sorted(config.held))
    config.set("log_level", "debug", RUNTIME)  # its notification has not reached the producer
    pending = config.sequence_id
    assert producer.last_sequence_id == pending - 1
    (snapshot,) = await take(producer.subscribe("agent", resume=EXTENSION_ONLY).events())
    assert snapshot.sequence_id == pending

    events = producer.subscribe("agent", resume=ResumePoint(producer.epoch, pending)).events()
    view = View()
    view.apply(snapshot)
    config.release(pending)  # already in the client's snapshot: not sent again
    config.set("hostname", "host-b", RUNTIME)
    config.release(pending + 1)
    view.apply((await take(events))[0])
    assert view.settings == state_of(config)
    assert counter(telemetry, "resumes") == 1
    assert counter(telemetry, "resume_refused", cause="future") == 0


async def test_resume_across_the_int32_wrap_of_wire_ids(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    config._sequence_id = 2**31 - 3  # as after two billion changes
    producer = await start_producer(config)
    (snapshot,) = await take(producer.subscribe("agent", resume=EXTENSION_ONLY).events())
    before_wrap = decode(snapshot).snapshot.sequence_id
    assert before_wrap == 2**31 - 3
    for i in range(5):  # the wire ids wrap to negative numbers on the way
        config.set("custom.key", i, RUNTIME)
    await handed_over()

    events = producer.subscribe("agent", resume=ResumePoint(producer.epoch, before_wrap)).events()
    wire_ids = [decode(e).update.sequence_id for e in await take(events, 5)]
    assert wire_ids == [2**31 - 2, 2**31 - 1, -(2**31), -(2**31) + 1, -(2**31) + 2]

    events = producer.subscribe("agent", resume=ResumePoint(producer.epoch, -(2**31))).events()
    wire_ids = [decode(e).update.sequence_id for e in await take(events, 2)]
    assert wire_ids == [-(2**31) + 1, -(2**31) + 2]
    assert counter(telemetry, "resumes") == 2
    assert counter(telemetry, "resume_refused", cause="future") == 0


async def test_resume_with_another_epoch_gets_a_snapshot_with_this_epoch(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    resume = ResumePoint(uuid.uuid4().hex, wire_sequence_id(config.sequence_id))
    (event,) = await take(producer.subscribe("agent", resume=resume).events())
    assert event.kind is EventKind.SNAPSHOT
    assert decode(event).snapshot.epoch == producer.epoch
    assert counter(telemetry, "resume_refused", cause="epoch") == 1
    assert counter(telemetry, "resumes") == 0


async def test_resume_that_fell_out_of_the_history_gets_a_snapshot(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config, history_size=3)
    start = config.sequence_id
    for i in range(10):
        config.set("custom.key", i, RUNTIME)
    await handed_over()
    assert producer.history_length == 3  # start + 8 .. start + 10
    events = producer.subscribe("agent", resume=ResumePoint(producer.epoch, start + 6)).events()
    view = View()
    view.apply((await take(events))[0])
    assert view.kinds == [EventKind.SNAPSHOT]
    assert view.settings == state_of(config)
    assert counter(telemetry, "resume_refused", cause="history") == 1

    # One id later, every missed update is still there.
    events = producer.subscribe("agent", resume=ResumePoint(producer.epoch, start + 7)).events()
    assert [e.sequence_id for e in await take(events, 3)] == [start + 8, start + 9, start + 10]
    assert counter(telemetry, "resumes") == 1


async def test_resume_from_the_future_gets_a_snapshot(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    resume = ResumePoint(producer.epoch, wire_sequence_id(config.sequence_id + 5))
    (event,) = await take(producer.subscribe("agent", resume=resume).events())
    assert event.kind is EventKind.SNAPSHOT
    assert counter(telemetry, "resume_refused", cause="future") == 1
    assert counter(telemetry, "resumes") == 0


async def test_a_plain_tuple_is_a_resume_point(config: LayeredConfig, start_producer: StartProducer) -> None:
    producer = await start_producer(config)
    subscription = producer.subscribe("agent", resume=(producer.epoch, wire_sequence_id(config.sequence_id)))
    assert isinstance(subscription, StreamSubscription)
    assert subscription.cursor == config.sequence_id
    assert subscription.with_epoch
