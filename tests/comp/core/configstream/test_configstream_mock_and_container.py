from __future__ import annotations

import asyncio

import pytest

from comp.core.config.mock import new_mock
from comp.core.configstream import def_
from comp.core.configstream.container import ConfigStreamContainer
from comp.core.configstream.def_ import EventKind
from comp.core.configstream.impl import Requires, new_component
from comp.core.configstream.impl.producer import ConfigStreamProducer
from comp.core.configstream.mock import MockConfigStream
from comp.core.configstream.mock import new_mock as new_stream_mock
from comp.core.telemetry.mock import MockTelemetry
from pkg.config import keys
from pkg.config.change import ConfigChange, Setting
from pkg.config.errors import ConfigValueError
from pkg.config.reader import MissingSettingError
from pkg.config.schema import Schema, declared_default
from pkg.config.sources import Source
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.util.lifecycle import Lifecycle


async def test_mock_delivers_the_initial_snapshot_then_pushed_events() -> None:
    stream = new_stream_mock({"log_level": Setting("info", Source.FILE)}, sequence_id=4, origin="x.yaml")
    assert isinstance(stream, def_.Component)
    subscription = stream.subscribe("agent")
    assert isinstance(subscription, def_.Subscription)
    events = subscription.events()
    async with asyncio.timeout(5):
        await stream.wait_for_subscribers(1)
        snapshot = await anext(events)
        stream.push_update(ConfigChange("log_level", "info", "debug", Source.CLI, 5))
        update = await anext(events)
    assert (snapshot.kind, snapshot.sequence_id) == (EventKind.SNAPSHOT, 4)
    parsed = configstream_pb2.ConfigEvent.FromString(snapshot.payload).snapshot
    assert parsed.origin == "x.yaml"
    assert [s.key for s in parsed.settings] == ["log_level"]
    assert configstream_pb2.ConfigEvent.FromString(update.payload).update.setting.source == "cli"
    assert subscription.delivered == [snapshot, update]

    stream.close_all()
    async with asyncio.timeout(5):
        assert await anext(events, None) is None
        await stream.wait_for_subscribers(0)
    assert stream.subscriber_count == 0


async def test_mock_without_snapshot_sends_only_what_is_pushed() -> None:
    stream = MockConfigStream()
    first, second = stream.subscribe("a"), stream.subscribe("b")
    event = stream.push_snapshot({}, 7)
    second.close()
    async with asyncio.timeout(5):
        assert await anext(first.events()) is event
    assert [s.name for s in stream.subscriptions] == ["a", "b"]
    assert second.delivered == []


async def test_container_builds_the_producer() -> None:
    lifecycle = Lifecycle()
    container = ConfigStreamContainer(
        lifecycle=lifecycle,
        config=new_mock({"remote_agent.configstream.queue_size": 7}),
        telemetry=MockTelemetry(),
    )
    component = container.component()
    assert isinstance(component, ConfigStreamProducer)
    assert component.queue_size == 7
    assert component.history_size == 10_000
    assert lifecycle.hook_names == ["config stream"]


def test_tunables_default_to_their_declarations() -> None:
    producer = new_component(Requires(Lifecycle(), new_mock(), MockTelemetry())).comp
    assert isinstance(producer, ConfigStreamProducer)
    declared = (
        declared_default(keys.CONFIGSTREAM_QUEUE_SIZE),
        declared_default(keys.CONFIGSTREAM_HISTORY_SIZE),
    )
    assert (producer.queue_size, producer.history_size) == declared == (1000, 10_000)


def test_a_tunable_out_of_its_bounds_is_refused_by_the_config() -> None:
    config = new_mock()
    with pytest.raises(ConfigValueError, match=r"remote_agent\.configstream\.queue_size.*at least 1"):
        config.set(keys.CONFIGSTREAM_QUEUE_SIZE, 0, Source.AGENT_RUNTIME)
    assert config.get_int(keys.CONFIGSTREAM_QUEUE_SIZE) == 1000


def test_a_config_without_the_tunables_is_refused_naming_one() -> None:
    with pytest.raises(MissingSettingError, match=r"remote_agent\.configstream\."):
        new_component(Requires(Lifecycle(), new_mock(schema=Schema()), MockTelemetry()))
