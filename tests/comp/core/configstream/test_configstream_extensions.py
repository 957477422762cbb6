"""The producer's extensions with a real producer: batches, key filters, progress events; and that a
subscriber asking for none of them gets byte for byte what it got before."""

from __future__ import annotations

import asyncio

import pytest

from comp.core.configstream.def_ import MAX_FILTER_ENTRIES, EventKind, KeyFilter, ResumePoint, StreamEvent
from comp.core.configstream.impl.keymatch import KeyMatcher
from comp.core.configstream.impl.metrics import stream_metrics
from comp.core.configstream.impl.producer import ConfigStreamProducer
from comp.core.configstream.impl.subscription import StreamSubscription
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.change import ConfigChange
from pkg.config.model import LayeredConfig
from pkg.config.sources import Source
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.configevents import update_event
from tests.comp.core.configstream.configstream_helpers import counter, decode, handed_over, take
from tests.comp.core.configstream.test_configstream_producer import StartProducer

RUNTIME = Source.AGENT_RUNTIME


def _updates(event: StreamEvent) -> list[configstream_pb2.ConfigUpdate]:
    message = decode(event)
    kind = message.WhichOneof("event")
    if kind == "batch":
        return list(message.batch.updates)
    assert kind == "update", kind
    return [message.update]


def _subscribe(producer: object, name: str = "agent", **options: object) -> StreamSubscription:
    subscription = producer.subscribe(name, **options)  # type: ignore[attr-defined]
    assert isinstance(subscription, StreamSubscription)
    return subscription


# --- a subscriber without extensions ------------------------------------------------------------


async def test_a_plain_subscriber_gets_the_shared_update_bytes(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    plain = _subscribe(producer)
    events = plain.events()
    await take(events)
    config.set_many({f"custom.k{i}": i for i in range(5)}, RUNTIME)
    received = await take(events, 5)
    assert [e.kind for e in received] == [EventKind.UPDATE] * 5
    for event in received:
        setting = decode(event).update.setting
        change = ConfigChange(setting.key, None, int(setting.value.number_value), RUNTIME, event.sequence_id)
        assert event.payload == update_event("core-agent", change).SerializeToString()
    plain.check()


# --- batches -------------------------------------------------------------------------------------


async def test_updates_queued_when_a_write_starts_go_out_as_one_batch(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config)
    subscription = _subscribe(producer, max_batch_updates=100)
    events = subscription.events()
    (snapshot,) = await take(events)
    config.set_many({f"custom.k{i}": i for i in range(5)}, RUNTIME)
    (batch,) = await take(events)
    assert (batch.kind, batch.count, batch.sequence_id) == (EventKind.BATCH, 5, config.sequence_id)
    assert (counter(telemetry, "batches_sent"), counter(telemetry, "updates_sent")) == (1, 5)
    updates = _updates(batch)
    assert [u.sequence_id for u in updates] == list(range(snapshot.sequence_id + 1, config.sequence_id + 1))
    assert [u.setting.key for u in updates] == [f"custom.k{i}" for i in range(5)]
    assert all(u.previous_sequence_id == 0 for u in updates)  # only for filtered clients
    assert b"\xa0\x06" not in batch.payload  # the field's tag: not there at all
    subscription.check()


async def test_a_lone_update_goes_out_at_once_unbatched(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    events = _subscribe(producer, max_batch_updates=100).events()
    await take(events)
    config.set("log_level", "debug", RUNTIME)
    (event,) = await take(events)
    assert event.kind is EventKind.UPDATE
    assert decode(event).WhichOneof("event") == "update"


async def test_a_batch_is_bounded_by_the_core_and_the_client_counts(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config, batch_max_updates=3)
    core_bound = _subscribe(producer, "core bound", max_batch_updates=100).events()
    client_bound = _subscribe(producer, "client bound", max_batch_updates=2).events()
    await take(core_bound)
    await take(client_bound)
    config.set_many({f"custom.k{i}": i for i in range(5)}, RUNTIME)
    assert [e.count for e in await take(core_bound, 2)] == [3, 2]
    assert [e.count for e in await take(client_bound, 3)] == [2, 2, 1]


async def test_a_batch_is_bounded_by_the_message_size(
    config: LayeredConfig, telemetry: MockTelemetry
) -> None:
    limit = 5000
    producer = ConfigStreamProducer(
        config,
        stream_metrics(telemetry.meter("configstream")),
        history_size=100,
        queue_size=100,
        max_event_bytes=limit,
    )
    await producer.start()
    try:
        events = _subscribe(producer, max_batch_updates=100).events()
        await take(events)
        value = "v" * 1900  # two fit in one message, three do not
        config.set_many({f"custom.k{i}": value for i in range(5)}, RUNTIME)
        received = await take(events, 3)
        assert [e.count for e in received] == [2, 2, 1]
        assert all(len(e.payload) <= limit for e in received)
        assert [u.setting.key for e in received for u in _updates(e)] == [f"custom.k{i}" for i in range(5)]
    finally:
        await producer.stop()


async def test_snapshots_are_never_batched(config: LayeredConfig, start_producer: StartProducer) -> None:
    producer = await start_producer(config, history_size=0, queue_size=2)
    events = _subscribe(producer, max_batch_updates=100).events()
    await take(events)
    config.set_many({f"custom.k{i}": i for i in range(5)}, RUNTIME)  # overflows: a snapshot is due
    await handed_over()
    first, second = await take(events, 2)
    assert (first.kind, first.count) == (EventKind.BATCH, 2)
    assert second.kind is EventKind.SNAPSHOT
    assert decode(second).WhichOneof("event") == "snapshot"


# --- key filters ---------------------------------------------------------------------------------


async def test_a_filtered_snapshot_holds_only_matching_keys(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    config.set_many({"apm_config.enabled": True, "apm_config.env": "prod", "apm_configx": 1}, RUNTIME)
    producer = await start_producer(config)
    key_filter = KeyFilter(keys=("log_level",), prefixes=("apm_config",))
    (snapshot,) = await take(_subscribe(producer, key_filter=key_filter).events())
    keys = [s.key for s in decode(snapshot).snapshot.settings]
    assert keys == ["apm_config.enabled", "apm_config.env", "log_level"]
    assert decode(snapshot).snapshot.sequence_id == config.sequence_id


async def test_filtered_updates_carry_the_id_of_the_event_written_before(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    subscription = _subscribe(producer, key_filter=KeyFilter(prefixes=("custom",)))
    events = subscription.events()
    (snapshot,) = await take(events)
    config.set("log_level", "debug", RUNTIME)  # not for this subscriber
    config.set("custom.a", 1, RUNTIME)
    config.set("hostname", "h2", RUNTIME)
    config.set("custom.b", 2, RUNTIME)
    first, second = await take(events, 2)
    updates = [decode(first).update, decode(second).update]
    assert [u.setting.key for u in updates] == ["custom.a", "custom.b"]
    assert [u.sequence_id for u in updates] == [snapshot.sequence_id + 2, snapshot.sequence_id + 4]
    assert [u.previous_sequence_id for u in updates] == [snapshot.sequence_id, snapshot.sequence_id + 2]
    assert subscription.cursor == config.sequence_id
    subscription.check()


async def test_a_filtered_batch_chains_previous_ids(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    key_filter = KeyFilter(keys=("custom.a", "custom.c"))
    events = _subscribe(producer, key_filter=key_filter, max_batch_updates=10).events()
    (snapshot,) = await take(events)
    config.set_many({"custom.a": 1, "custom.b": 2, "custom.c": 3}, RUNTIME)
    (batch,) = await take(events)
    s = snapshot.sequence_id
    assert [(u.setting.key, u.sequence_id, u.previous_sequence_id) for u in _updates(batch)] == [
        ("custom.a", s + 1, s),
        ("custom.c", s + 3, s + 1),
    ]


async def test_non_matching_updates_never_fill_a_filtered_queue(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config, queue_size=2)
    subscription = _subscribe(producer, key_filter=KeyFilter(keys=("log_level",)))
    await take(subscription.events())
    config.set_many({f"custom.k{i}": i for i in range(50)}, RUNTIME)
    await handed_over()
    assert (subscription.pending, subscription.lagging, subscription.cursor) == (0, False, config.sequence_id)


async def test_a_filtered_resume_replays_only_matching_history(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config)
    key_filter = KeyFilter(prefixes=("custom",))
    start = config.sequence_id
    config.set("custom.a", 1, RUNTIME)
    config.set("log_level", "debug", RUNTIME)
    config.set("custom.b", 2, RUNTIME)
    await handed_over()
    subscription = _subscribe(
        producer, resume=ResumePoint(producer.epoch, start), key_filter=key_filter, max_batch_updates=1
    )
    assert subscription.resumed
    events = subscription.events()
    first, second = await take(events, 2)
    assert [
        (u.setting.key, u.previous_sequence_id) for u in (decode(first).update, decode(second).update)
    ] == [
        ("custom.a", start),
        ("custom.b", start + 1),
    ]
    assert (subscription.lagging, subscription.cursor) == (False, config.sequence_id)


def test_a_key_decision_is_made_once_per_key() -> None:
    matcher = KeyMatcher(KeyFilter(keys=("a",), prefixes=("apm_config",)))
    assert [matcher.matches(k) for k in ("a", "apm_config", "apm_config.x", "apm_configx", "b")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert matcher.matches("b") is False  # from the cache


@pytest.mark.parametrize(
    ("keys", "prefixes", "message"),
    [
        (("",), (), r"filter.keys\[0\] is empty"),
        ((), ("ok", "x" * 257), r"filter.prefixes\[1\] is too long: 257 characters, the limit is 256"),
        (("k",) * (MAX_FILTER_ENTRIES + 1), (), rf"filter has {MAX_FILTER_ENTRIES + 1} keys and prefixes"),
    ],
)
def test_a_filter_over_its_bounds_is_refused(
    keys: tuple[str, ...], prefixes: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        KeyFilter(keys=keys, prefixes=prefixes)


# --- progress events -----------------------------------------------------------------------------


async def test_an_idle_stream_gets_progress_at_its_position(
    config: LayeredConfig, start_producer: StartProducer, telemetry: MockTelemetry
) -> None:
    producer = await start_producer(config, progress_interval="20ms")
    subscription = _subscribe(producer, progress=True, key_filter=KeyFilter(keys=("custom.a",)))
    events = subscription.events()
    (snapshot,) = await take(events)
    config.set("log_level", "debug", RUNTIME)  # skipped by the filter: the position moves on
    (progress,) = await take(events)
    assert progress.kind is EventKind.PROGRESS
    assert counter(telemetry, "progress_sent") >= 1
    message = decode(progress).progress
    assert (message.sequence_id, message.epoch) == (snapshot.sequence_id + 1, producer.epoch)
    config.set("custom.a", 1, RUNTIME)
    while True:  # progress events may come before it on a slow machine
        (update,) = await take(events)
        if update.kind is EventKind.UPDATE:
            break
        assert update.kind is EventKind.PROGRESS
    assert decode(update).update.previous_sequence_id == snapshot.sequence_id + 1


async def test_progress_waits_for_idleness_and_only_for_subscribers_that_ask(
    config: LayeredConfig, start_producer: StartProducer
) -> None:
    producer = await start_producer(config, progress_interval="50ms")
    asking = _subscribe(producer, "asking", progress=True).events()
    plain = _subscribe(producer, "plain")
    received: list[StreamEvent] = []

    async def read_plain() -> None:
        async for event in plain.events():
            received.append(event)

    reader = asyncio.create_task(read_plain())
    await take(asking)
    loop = asyncio.get_running_loop()
    started = loop.time()
    progress = await take(asking, 2)
    assert [e.kind for e in progress] == [EventKind.PROGRESS] * 2
    assert loop.time() - started >= 2 * 0.05 * 0.8 - 0.01  # the jitter is at most 20%
    assert [e.kind for e in received] == [EventKind.SNAPSHOT]  # two intervals passed: nothing more
    plain.close()
    await reader
