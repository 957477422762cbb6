from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from comp.core.config.mock import new_mock
from comp.core.configstream.impl import Requires, new_component
from comp.core.configstream.impl.producer import ConfigStreamProducer
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.model import LayeredConfig
from pkg.config.sources import Source
from pkg.util.lifecycle import Lifecycle

StartProducer = Callable[..., Awaitable[ConfigStreamProducer]]


@pytest.fixture
def telemetry() -> MockTelemetry:
    return MockTelemetry()


@pytest.fixture
def config() -> LayeredConfig:
    return new_mock({"log_level": "info", "hostname": "host-a"})


@pytest.fixture
async def start_producer(telemetry: MockTelemetry) -> AsyncIterator[StartProducer]:
    """Build and start a producer over a config (``history_size``/``queue_size`` set in it first)."""
    lifecycles: list[Lifecycle] = []

    async def start(config: LayeredConfig, **tunables: Any) -> ConfigStreamProducer:
        for name, value in tunables.items():
            config.set(f"remote_agent.configstream.{name}", value, Source.FILE)
        lifecycle = Lifecycle()
        provides = new_component(Requires(lifecycle=lifecycle, config=config, telemetry=telemetry))
        assert isinstance(provides.comp, ConfigStreamProducer)
        await lifecycle.start()
        lifecycles.append(lifecycle)
        return provides.comp

    yield start
    for lifecycle in reversed(lifecycles):
        await lifecycle.stop()
