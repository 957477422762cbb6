"""Helpers of the consumer's end-to-end tests (this module holds no tests).

The consumer runs in the test process against a real ``core-agent`` process started by the harness;
the core's effective configuration is read through its Settings API and compared with the view.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from comp.core.configstreamconsumer.def_ import BackoffPolicy, ConsumerState, Params
from comp.core.configstreamconsumer.def_ import Component as StreamConsumer
from comp.core.configstreamconsumer.impl import Requires, new_component
from comp.core.settings.impl.runtime_settings import mask_secret
from comp.core.telemetry.mock import MockTelemetry
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from pkg.protoconv.values import from_value
from pkg.util.lifecycle import Lifecycle
from tests.e2e.harness import AgentProcess
from tests.support.polling import eventually

__all__ = [
    "E2E_BACKOFF",
    "WAIT",
    "CoreView",
    "SettingsClient",
    "assert_view_matches",
    "core_view",
    "running_consumer",
    "wait_in_sync",
]

WAIT = 20.0
"""Upper bound of every wait (things normally happen within a second)."""

E2E_BACKOFF = BackoffPolicy(initial=0.1, multiplier=2.0, cap=1.0, jitter=0.3, healthy_reset=30.0)
"""The production policy (0.5 s doubling to 30 s) scaled down so that an outage of a few seconds
covers the whole curve up to the cap: 0.1, 0.2, 0.4, 0.8, then 1.0 s (each minus up to 30 %)."""


@dataclass(frozen=True)
class CoreView:
    """The core's effective settings ``key -> (value, source, masked)`` and its sequence id."""

    settings: dict[str, tuple[Any, str, bool]]
    sequence_id: int


@contextlib.asynccontextmanager
async def running_consumer(
    agent: AgentProcess,
    *,
    address: str | None = None,
    rand: Callable[[], float] | None = None,
    **params: Any,
) -> AsyncIterator[tuple[StreamConsumer, MockTelemetry]]:
    """A started consumer of ``agent`` (files as the agent's), stopped on exit. ``address``: dial
    this instead of the agent's own address (a relay in front of it)."""
    params.setdefault("backoff", E2E_BACKOFF)
    params.setdefault("display_name", "e2e consumer")
    telemetry = MockTelemetry()
    lifecycle = Lifecycle()
    if rand is not None:
        params["rand"] = rand
    requires = Requires(
        lifecycle=lifecycle,
        telemetry=telemetry,
        params=Params(
            ipc_address=agent.address if address is None else address,
            auth_token_file=agent.auth_token_path,
            cert_file=agent.ipc_cert_path,
            **params,
        ),
    )
    consumer = new_component(requires).comp
    await lifecycle.start()
    try:
        yield consumer, telemetry
    finally:
        await lifecycle.stop()


class SettingsClient:
    """The core's Settings API over one channel (open it inside the running loop)."""

    def __init__(self, agent: AgentProcess) -> None:
        self._agent = agent
        self._channel = agent.aio_channel()
        self._stub = settings_pb2_grpc.SettingsStub(self._channel)
        self._metadata = agent.auth_metadata()

    async def __aenter__(self) -> SettingsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._channel.close()

    async def view(self) -> CoreView:
        response = await self._stub.ListSettings(
            settings_pb2.ListSettingsRequest(), metadata=self._metadata, timeout=10
        )
        settings = {s.key: (from_value(s.value), s.source, s.masked) for s in response.settings}
        return CoreView(settings, response.sequence_id)

    async def set(self, values: dict[str, str]) -> int:
        """Set values (text, parsed with the keys' types) at ``agent-runtime``; the new sequence id."""
        request = settings_pb2.SetSettingsRequest(values=values)
        response = await self._stub.SetSettings(request, metadata=self._metadata, timeout=10)
        return int(response.sequence_id)

    async def unset(self, key: str) -> int:
        request = settings_pb2.UnsetSettingRequest(key=key)
        response = await self._stub.UnsetSetting(request, metadata=self._metadata, timeout=10)
        return int(response.sequence_id)


async def core_view(agent: AgentProcess) -> CoreView:
    async with SettingsClient(agent) as client:
        return await client.view()


async def wait_in_sync(consumer: StreamConsumer, agent: AgentProcess) -> CoreView:
    """Wait until the consumer is ready at the core's current sequence id; the core's view then."""
    core = await core_view(agent)
    await eventually(
        lambda: consumer.state == ConsumerState.READY and consumer.sequence_id == core.sequence_id,
        f"the consumer at sequence id {core.sequence_id} (it is at {consumer.sequence_id})",
        WAIT,
    )
    return core


def assert_view_matches(consumer: StreamConsumer, core: CoreView) -> None:
    """Same keys, values and sources; a masked (secret) value is compared in its masked form."""
    reader = consumer.reader()
    ours = reader.all_settings()
    assert sorted(ours) == sorted(core.settings)
    for key, (value, source, masked) in core.settings.items():
        mine = ours[key]
        assert (mask_secret(mine, key) if masked else mine) == value, f"value of {key!r}"
        got = reader.get_source(key)
        assert got is not None and got.value == source, f"source of {key!r}: {got} != {source}"
