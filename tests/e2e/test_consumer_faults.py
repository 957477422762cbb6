"""The consumer through faults of a real core agent: SIGKILL and restart, a 20-second outage,
session eviction. During each fault the last good view keeps answering; afterwards the view equals
the (new) core's configuration again.

Backoff is scaled down (see ``E2E_BACKOFF``: 0.1 s doubling to a 1 s cap instead of 0.5 s to 30 s) so
that the outage shows the whole curve many times over the cap. Recovery within one backoff cap is
asserted on the recorded attempts, not on the wall clock: once the core serves again, the very next
attempt succeeds.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable
from typing import Any

from comp.core.configstreamconsumer.def_ import ChangeEvent, ConsumerState
from pkg.config.sources import Source
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from tests.e2e.consumer_support import (
    E2E_BACKOFF,
    WAIT,
    SettingsClient,
    assert_view_matches,
    core_view,
    running_consumer,
    wait_in_sync,
)
from tests.e2e.harness import AgentProcess
from tests.support.polling import eventually

AgentFactory = Callable[..., AgentProcess]


async def test_sigkill_and_restart(start_agent: AgentFactory, restart: Any) -> None:
    agent = start_agent(telemetry=False)
    async with running_consumer(agent, name="e2e-sigkill") as (consumer, _telemetry):
        await consumer.wait_ready(WAIT)
        async with SettingsClient(agent) as client:
            await client.set({"log_level": "debug", "site": "runtime.example"})
        before = await wait_in_sync(consumer, agent)
        level_changes = consumer.subscribe(keys=["log_level", "site"])

        agent.send_signal(signal.SIGKILL)
        await asyncio.to_thread(agent.wait)
        await eventually(lambda: consumer.state != ConsumerState.READY, "the consumer to notice", WAIT)
        assert_view_matches(consumer, before)  # the last good view keeps answering
        assert consumer.reader().get_string("log_level") == "debug"

        new = await asyncio.to_thread(restart, agent)
        after = await wait_in_sync(consumer, new)
        assert_view_matches(consumer, after)
        # The runtime changes died with the old core: subscribers see the values fall back.
        assert [await anext(level_changes) for _ in range(2)] == [
            ChangeEvent("log_level", "debug", "info", Source.FILE),
            ChangeEvent("site", "runtime.example", "datadoghq.com", Source.DEFAULT),
        ]
        assert consumer.stats.registrations >= 2  # the new core did not know the old session


OUTAGE = 20.0
"""Seconds the core agent stays down."""


async def test_a_twenty_second_outage(start_agent: AgentFactory, restart: Any) -> None:
    agent = start_agent(telemetry=False)
    draws = random.Random(7)
    async with running_consumer(agent, name="e2e-outage", rand=draws.random) as (consumer, telemetry):
        await consumer.wait_ready(WAIT)
        before = await wait_in_sync(consumer, agent)

        assert await asyncio.to_thread(agent.stop) == 0
        stopped_at = time.monotonic()
        await eventually(lambda: len(consumer.stats.reconnect_delays) >= 6, "six failed attempts", WAIT)
        # The outage itself: nothing to wait for but time; the consumer keeps retrying meanwhile.
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped_at)))
        assert consumer.state != ConsumerState.READY
        assert_view_matches(consumer, before)
        assert "cannot reach core agent at" in (consumer.stats.last_error or "")

        delays = consumer.stats.reconnect_delays
        p = E2E_BACKOFF
        bases = [min(p.cap, p.initial * p.multiplier**i) for i in range(len(delays))]
        for delay, base in zip(delays, bases, strict=True):
            assert base * (1 - p.jitter) <= delay <= base
        assert delays[0] < delays[1] < delays[2] < delays[3]  # growth
        assert any(delay < base * 0.99 for delay, base in zip(delays, bases, strict=True))  # jitter
        assert len(set(delays[-2:])) == 2  # still jittered at the cap
        assert telemetry.histogram_count("configstream_consumer.reconnect_delay_seconds") == len(delays)

        new = await asyncio.to_thread(restart, agent)
        attempts_when_serving = len(consumer.stats.reconnect_delays)
        await eventually(lambda: consumer.state == ConsumerState.READY, "the consumer to recover", WAIT)
        # At most the delay already running when the core came back (at most one cap), then success.
        assert len(consumer.stats.reconnect_delays) <= attempts_when_serving + 1
        assert len(delays) >= OUTAGE / p.cap  # it kept trying through the whole outage
        assert_view_matches(consumer, await wait_in_sync(consumer, new))
        assert (telemetry.value("configstream_consumer.reconnects") or 0) >= 6


async def test_an_evicted_session_registers_again(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.registry.idle_timeout": "1s"}, telemetry=False)
    # refresh_interval=0: never refresh, so the core evicts the session about a second after each
    # stream starts and ends the stream with PERMISSION_DENIED.
    async with running_consumer(agent, name="e2e-evicted", refresh_interval=0) as (consumer, _telemetry):
        await consumer.wait_ready(WAIT)
        first = await wait_in_sync(consumer, agent)
        await eventually(lambda: consumer.stats.registrations >= 2, "a second registration", WAIT)
        assert "PERMISSION_DENIED" in (consumer.stats.last_error or "")
        assert_view_matches(consumer, first)
        async with SettingsClient(agent) as client:
            await client.set({"hostname": "after-eviction"})
        await eventually(
            lambda: consumer.reader().get_string("hostname") == "after-eviction", "the change", WAIT
        )
        assert_view_matches(consumer, await wait_in_sync(consumer, agent))


async def test_refreshing_at_the_recommended_interval_keeps_the_session(start_agent: AgentFactory) -> None:
    agent = start_agent(
        {
            "remote_agent.registry.idle_timeout": "2s",
            "remote_agent.registry.recommended_refresh_interval": "1s",
        },
        telemetry=False,
    )
    async with running_consumer(agent, name="e2e-refresh") as (consumer, _telemetry):
        await consumer.wait_ready(WAIT)
        moments: list[float] = []  # distinct last_seen readings (they carry float noise: cluster them)
        sessions: set[str] = set()
        async with agent.aio_channel() as channel:
            stub = settings_pb2_grpc.SettingsStub(channel)
            deadline = time.monotonic() + WAIT
            # The stream's session check, then three refreshes a second apart: the session outlives
            # the 2 s idle timeout without a new registration.
            while len(moments) < 4:
                assert time.monotonic() < deadline, f"refreshes did not reach the core: {moments}"
                status = await stub.Status(settings_pb2.StatusRequest(), metadata=agent.auth_metadata())
                for remote in status.remote_agents:
                    sessions.add(remote.session_id)
                    if all(abs(remote.last_seen_unix - m) > 0.5 for m in moments):
                        moments.append(remote.last_seen_unix)
                await asyncio.sleep(0.1)
        assert len(sessions) == 1
        assert consumer.stats.registrations == 1
        assert consumer.state == ConsumerState.READY
        assert_view_matches(consumer, await core_view(agent))
