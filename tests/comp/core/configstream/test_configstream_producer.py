from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from comp.core.config.mock import new_mock
from comp.core.configstream.def_ import EventKind
from comp.core.configstream.impl import Requires, new_component
from comp.core.configstream.impl.producer import ConfigStreamProducer
from comp.core.configstream.impl.subscription import StreamSubscription
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.model import LayeredConfig
from pkg.config.sources import Source
from pkg.protoconv.values import from_value
from pkg.util.lifecycle import Lifecycle
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

StartProducer = Callable[..., Awaitable[ConfigStreamProducer]]
"""The ``start_producer`` fixture: ``await start_producer(config, queue_size=..., history_size=...)``."""


async def test_first_event_is_a_snapshot_of_every_effective_setting(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    (event,) = await take(producer.subscribe("agent").events())
    assert event.kind is EventKind.SNAPSHOT
    assert event.sequence_id == config.sequence_id
    snapshot = decode(event).snapshot
    assert snapshot.origin == "core-agent"
    assert snapshot.sequence_id == config.sequence_id
    view = View()
    view.apply(event)
    assert view.settings == state_of(config)
    assert view.settings["log_level"] == ("info", "file")
    assert view.settings["remote_agent.registry.enabled"] == (True, "default")


async def test_origin_is_the_config_file_name(start_producer: StartProducer) -> None:
    producer = await start_producer(new_mock(config_file=Path("/etc/datadog-agent/datadog.yaml")))
    assert producer.origin == "datadog.yaml"
    (event,) = await take(producer.subscribe("agent").events())
    assert decode(event).snapshot.origin == "datadog.yaml"


async def test_updates_follow_the_snapshot_with_consecutive_ids(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    events = producer.subscribe("agent").events()
    view = View()
    view.apply((await take(events))[0])
    config.set("log_level", "debug", RUNTIME)
    config.set_many({"api_key": "k1", "site": "datadoghq.eu"}, RUNTIME)
    config.set("log_level", "debug", RUNTIME)  # no effective change: no update
    (update,) = await take(events)
    assert decode(update).update.origin == "core-agent"
    assert decode(update).update.setting.key == "log_level"
    view.apply(update)
    await view.follow(events, until=config.sequence_id)
    assert view.kinds == [EventKind.SNAPSHOT, *[EventKind.UPDATE] * 3]
    assert view.settings == state_of(config)


async def test_unsets_carry_unset_source_and_the_new_effective_value(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    events = producer.subscribe("agent").events()
    await take(events)
    config.set("log_level", "debug", RUNTIME)
    config.set("custom.flag", True, RUNTIME)
    await take(events, 2)

    config.unset_for_source("log_level", RUNTIME)
    setting = decode((await take(events))[0]).update.setting
    assert (setting.key, setting.source, setting.unset_source) == ("log_level", "file", "agent-runtime")
    assert from_value(setting.value) == "info"

    config.unset_for_source("custom.flag", RUNTIME)
    setting = decode((await take(events))[0]).update.setting
    assert (setting.key, setting.source, setting.unset_source) == ("custom.flag", "", "agent-runtime")
    assert setting.value.WhichOneof("kind") == "null_value"


async def test_several_subscribers_share_the_same_events(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    streams = [producer.subscribe(f"agent-{i}").events() for i in range(3)]
    assert producer.subscriber_count == 3
    assert counter(telemetry, "subscribers") == 3
    snapshots = [(await take(s))[0] for s in streams]
    config.set("log_level", "warn", RUNTIME)
    updates = [(await take(s))[0] for s in streams]
    assert all(e.payload is snapshots[0].payload for e in snapshots)
    assert all(e.payload is updates[0].payload for e in updates)
    assert counter(telemetry, "snapshots_sent") == 3
    assert counter(telemetry, "updates_sent") == 3
    assert counter(telemetry, "snapshot_builds") == 1


async def test_snapshot_is_built_once_per_sequence_id(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    first = await asyncio.gather(*(take(producer.subscribe(f"a{i}").events()) for i in range(20)))
    assert len({id(events[0].payload) for events in first}) == 1
    assert counter(telemetry, "snapshot_builds") == 1

    config.set("log_level", "error", RUNTIME)
    await handed_over()
    later = [(await take(producer.subscribe(f"b{i}").events()))[0] for i in range(5)]
    assert {e.sequence_id for e in later} == {config.sequence_id}
    assert len({id(e.payload) for e in later}) == 1
    assert counter(telemetry, "snapshot_builds") == 2


async def test_close_ends_events_and_stops_delivery(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    kept, closed = producer.subscribe("kept"), producer.subscribe("closed")
    kept_events, closed_events = kept.events(), closed.events()
    await take(kept_events)
    await take(closed_events)
    reader = asyncio.create_task(anext(closed_events, None))
    await asyncio.sleep(0)  # let the reader block in events()
    closed.close()
    closed.close()  # idempotent
    async with asyncio.timeout(5):
        assert await reader is None
    assert producer.subscriber_count == 1
    assert counter(telemetry, "subscribers") == 1

    config.set("log_level", "warn", RUNTIME)
    await take(kept_events)
    assert isinstance(closed, StreamSubscription)
    assert closed.pending == 0


async def test_leaving_the_iteration_unsubscribes(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    events = producer.subscribe("agent").events()
    await take(events)
    await events.aclose()  # type: ignore[attr-defined]
    assert producer.subscriber_count == 0


async def test_slow_subscriber_is_marked_lagging_and_caught_up_from_history(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config, queue_size=3, history_size=100)
    subscription = producer.subscribe("slow")
    fast = producer.subscribe("fast").events()
    assert isinstance(subscription, StreamSubscription)
    events = subscription.events()
    view, fast_view = View(), View()
    view.apply((await take(events))[0])
    fast_view.apply((await take(fast))[0])

    for i in range(10):
        config.set("custom.counter", i, RUNTIME)
        fast_view.apply((await take(fast))[0])  # the other subscriber is never held back
    await handed_over()
    assert subscription.lagging
    assert subscription.pending == 3
    assert counter(telemetry, "lagging") == 1
    assert counter(telemetry, "dropped_updates") == 7

    await view.follow(events, until=config.sequence_id)
    assert view.kinds == [EventKind.SNAPSHOT, *[EventKind.UPDATE] * 10]
    assert view.settings == state_of(config) == fast_view.settings
    assert not subscription.lagging
    assert counter(telemetry, "catch_ups") == 1
    assert counter(telemetry, "resyncs", cause="fell_behind") == 0

    config.set("custom.counter", 100, RUNTIME)  # back to normal delivery
    view.apply((await take(events))[0])
    assert view.settings["custom.counter"] == (100, "agent-runtime")


async def test_subscriber_that_fell_out_of_history_gets_a_snapshot(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config, queue_size=2, history_size=5)
    events = producer.subscribe("slow").events()
    view = View()
    view.apply((await take(events))[0])
    for i in range(20):
        config.set(f"custom.key{i}", i, RUNTIME)
    await handed_over()
    assert producer.history_length == 5

    await view.follow(events, until=config.sequence_id)
    assert view.kinds == [EventKind.SNAPSHOT, EventKind.UPDATE, EventKind.UPDATE, EventKind.SNAPSHOT]
    assert view.settings == state_of(config)
    assert counter(telemetry, "resyncs", cause="fell_behind") == 1
    assert counter(telemetry, "catch_ups") == 0

    config.set("custom.key0", "again", RUNTIME)
    view.apply((await take(events))[0])
    assert view.settings == state_of(config)


async def test_history_size_zero_always_resyncs_lagging_subscribers(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config, queue_size=1, history_size=0)
    events = producer.subscribe("slow").events()
    view = View()
    view.apply((await take(events))[0])
    for i in range(3):
        config.set("custom.key", i, RUNTIME)
    await view.follow(events, until=config.sequence_id)
    assert view.kinds == [EventKind.SNAPSHOT, EventKind.UPDATE, EventKind.SNAPSHOT]
    assert producer.history_length == 0
    assert counter(telemetry, "resyncs", cause="fell_behind") == 1


async def test_gap_sends_a_snapshot_and_late_changes_are_ignored(
    start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    config = HeldConfig()
    producer = await start_producer(config)
    config.release(*sorted(config.held))  # the tunables set by start_producer
    subscription = producer.subscribe("agent")
    events = subscription.events()
    view = View()
    view.apply((await take(events))[0])
    base = config.sequence_id

    config.set("log_level", "debug", RUNTIME)  # base + 1
    config.set("hostname", "host-b", RUNTIME)  # base + 2
    config.release(base + 2)  # arrives first: base + 1 is missing
    (event,) = await take(events)
    assert event.kind is EventKind.SNAPSHOT
    view.apply(event)
    assert view.sequence_id == base + 2
    assert view.settings == state_of(config)
    assert counter(telemetry, "discontinuities") == 1
    assert counter(telemetry, "resyncs", cause="gap") == 1

    config.release(base + 1)  # late: already covered by the snapshot
    config.set("site", "datadoghq.eu", RUNTIME)
    config.release(base + 3)
    (event,) = await take(events)
    view.apply(event)
    assert view.kinds[-1] is EventKind.UPDATE
    assert view.settings == state_of(config)
    assert counter(telemetry, "discontinuities") == 1


async def test_updates_from_other_threads_arrive_in_order(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    events = producer.subscribe("agent").events()
    view = View()
    view.apply((await take(events))[0])
    threads, per_thread = 4, 150
    target = config.sequence_id + threads * per_thread

    def writer(thread: int) -> None:
        for i in range(per_thread):
            config.set(f"thread{thread}.key{i}", i, RUNTIME)

    reader = asyncio.create_task(view.follow(events, until=target))
    await asyncio.gather(*(asyncio.to_thread(writer, t) for t in range(threads)))
    await reader
    assert view.settings == state_of(config)
    assert counter(telemetry, "discontinuities") == 0


async def test_unconvertible_value_is_sent_as_null_logged_and_counted(
    config: LayeredConfig,
    start_producer: StartProducer,
    telemetry: MockTelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = await start_producer(config)
    events = producer.subscribe("agent").events()
    await take(events)
    with caplog.at_level(logging.ERROR):
        config.set("custom.text", "bad \ud800 text", RUNTIME)  # a lone surrogate is not UTF-8
        setting = decode((await take(events))[0]).update.setting
    assert (setting.key, setting.source) == ("custom.text", "agent-runtime")
    assert setting.value.WhichOneof("kind") == "null_value"
    assert counter(telemetry, "conversion_errors", key="custom.text") == 1
    assert "custom.text" in caplog.text

    snapshot = decode((await take(producer.subscribe("late").events()))[0]).snapshot
    by_key = {s.key: s for s in snapshot.settings}
    assert by_key["custom.text"].source == "agent-runtime"
    assert by_key["custom.text"].value.WhichOneof("kind") == "null_value"
    assert from_value(by_key["log_level"].value) == "info"
    assert counter(telemetry, "conversion_errors", key="custom.text") == 2


@pytest.mark.parametrize(
    ("tunables", "resumes_with"),
    [({}, "history"), ({"history_size": 500, "queue_size": 100}, "snapshot")],
)
async def test_memory_is_bounded_for_a_subscriber_that_stops_reading(
    config: LayeredConfig,
    start_producer: StartProducer,
    telemetry: MockTelemetry,
    tunables: dict[str, int],
    resumes_with: str,
) -> None:
    producer = await start_producer(config, **tunables)
    subscription = producer.subscribe("stalled")
    never_read = producer.subscribe("never-read")
    assert isinstance(subscription, StreamSubscription)
    assert isinstance(never_read, StreamSubscription)
    events = subscription.events()
    view = View()
    view.apply((await take(events))[0])

    for batch in range(10):
        for i in range(1000):
            config.set(f"custom.key{i % 300}", batch * 1000 + i, RUNTIME)
        await handed_over()
        assert subscription.pending <= producer.queue_size
        assert producer.history_length <= producer.history_size
        assert never_read.pending == 0
    assert subscription.pending == producer.queue_size
    assert subscription.lagging

    await view.follow(events, until=config.sequence_id)
    assert view.settings == state_of(config)
    if resumes_with == "history":
        assert EventKind.SNAPSHOT not in view.kinds[1:]
        assert counter(telemetry, "catch_ups") == 1
    else:
        assert view.kinds.count(EventKind.SNAPSHOT) == 2
        assert counter(telemetry, "resyncs", cause="fell_behind") == 1
    assert counter(telemetry, "dropped_updates") == 10_000 - producer.queue_size


async def test_stop_closes_subscriptions_and_stops_listening(
    config: LayeredConfig, telemetry: MockTelemetry
) -> None:
    lifecycle = Lifecycle()
    producer = new_component(Requires(lifecycle=lifecycle, config=config, telemetry=telemetry)).comp
    assert isinstance(producer, ConfigStreamProducer)
    assert [e async for e in producer.subscribe("early").events()] == []  # not started: closed at once

    await lifecycle.start()
    events = producer.subscribe("agent").events()
    await take(events)
    await lifecycle.stop()
    async with asyncio.timeout(5):
        assert await anext(events, None) is None
    assert producer.subscriber_count == 0
    last = producer.last_sequence_id
    config.set("log_level", "debug", RUNTIME)
    await handed_over()
    assert producer.last_sequence_id == last
