"""Wiring: the container builds one consumer whose hooks join the given lifecycle."""

from __future__ import annotations

from comp.core.configstreamconsumer.container import ConfigStreamConsumerContainer
from comp.core.configstreamconsumer.def_ import Component, ConsumerState, Params
from comp.core.telemetry.mock import MockTelemetry
from pkg.ipc import ClientMaterial
from pkg.util.lifecycle import Lifecycle


async def test_container_builds_a_singleton_hooked_into_the_lifecycle() -> None:
    lifecycle = Lifecycle()
    container = ConfigStreamConsumerContainer(
        lifecycle=lifecycle,
        telemetry=MockTelemetry(),
        params=Params(ipc_address="127.0.0.1:1", material=ClientMaterial("t" * 64, b"", b"")),
    )
    consumer = container.component()
    assert isinstance(consumer, Component)
    assert container.component() is consumer
    assert lifecycle.hook_names == ["configstream consumer"]
    assert consumer.state == ConsumerState.DISCONNECTED
    await lifecycle.start()
    assert consumer.state != ConsumerState.READY
    await lifecycle.stop()
    assert consumer.state == ConsumerState.DISCONNECTED
