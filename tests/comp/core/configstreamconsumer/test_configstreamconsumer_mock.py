"""The mock consumer: a view filled with one call and changed by hand, publishing ChangeEvents."""

from __future__ import annotations

import asyncio

import pytest

from comp.core.configstreamconsumer.def_ import ChangeEvent, Component, ConsumerState, NotReadyError
from comp.core.configstreamconsumer.mock import MockConsumer
from pkg.config.change import Setting
from pkg.config.sources import Source


async def test_a_view_given_at_construction_is_ready() -> None:
    consumer = MockConsumer({"log_level": "info", "cmd_port": 5001, "api_key": Setting("k", Source.CLI)})
    assert isinstance(consumer, Component)
    await consumer.wait_ready(0.01)
    assert consumer.state == ConsumerState.READY
    assert consumer.sequence_id == 1
    reader = consumer.reader()
    assert reader.get_int("cmd_port") == 5001
    assert reader.get_source("log_level") == Source.FILE
    assert reader.get_source("api_key") == Source.CLI


async def test_without_a_view_wait_ready_times_out_until_set_view() -> None:
    consumer = MockConsumer()
    with pytest.raises(NotReadyError, match=r"not ready after 0\.01s"):
        await consumer.wait_ready(0.01)
    waiting = asyncio.create_task(consumer.wait_ready(5))
    consumer.set_view({"a": 1})
    await asyncio.wait_for(waiting, 5)
    assert consumer.sequence_id == 1


async def test_changes_by_hand_reach_matching_subscribers() -> None:
    consumer = MockConsumer({"log_level": "info", "logs_config.enabled": False})
    logs = consumer.subscribe(prefix="logs_config.")
    everything = consumer.subscribe()
    assert consumer.set("log_level", "debug") == ChangeEvent(
        "log_level", "info", "debug", Source.AGENT_RUNTIME
    )
    consumer.set("logs_config.enabled", True, Source.REMOTE_CONFIG)
    consumer.unset("log_level")
    assert consumer.set("logs_config.enabled", True, Source.REMOTE_CONFIG) is None  # no change
    consumer.set_view({"logs_config.enabled": True, "site": "x"}, source=Source.REMOTE_CONFIG)
    assert consumer.sequence_id == 5
    await consumer.stop()
    assert [e async for e in everything] == [
        ChangeEvent("log_level", "info", "debug", Source.AGENT_RUNTIME),
        ChangeEvent("logs_config.enabled", False, True, Source.REMOTE_CONFIG),
        ChangeEvent("log_level", "debug", None, None),
        ChangeEvent("site", None, "x", Source.REMOTE_CONFIG),
    ]
    assert [e.key async for e in logs] == ["logs_config.enabled"]
    assert consumer.state == ConsumerState.DISCONNECTED
    assert consumer.reader().get_string("site") == "x"  # the last view stays readable


async def test_state_can_be_set_by_hand() -> None:
    consumer = MockConsumer({"a": 1})
    consumer.set_state(ConsumerState.DISCONNECTED)
    assert consumer.state == ConsumerState.DISCONNECTED
    assert consumer.reader().get_int("a") == 1
