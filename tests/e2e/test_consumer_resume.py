"""The resume extension against a real core agent: a consumer that loses its connection while the
core keeps running continues its view from the updates it missed, without a new snapshot; a
restarted core (a new epoch) or a history that no longer holds the missed updates answers with a
snapshot; an evicted session that registers again resumes too.

The connection is lost through :class:`Relay`, a TCP relay between the consumer and the core that
the test cuts and restores: the core and the consumer are left untouched, and the changes made while
the relay is cut cannot reach the consumer before it reconnects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from comp.core.configstreamconsumer.def_ import ChangeEvent, ConsumerState
from comp.core.configstreamconsumer.def_ import Component as StreamConsumer
from pkg.config.sources import Source
from tests.e2e.consumer_support import (
    WAIT,
    SettingsClient,
    assert_view_matches,
    running_consumer,
    wait_in_sync,
)
from tests.e2e.harness import AgentProcess
from tests.e2e.relay import Relay
from tests.support.polling import eventually

AgentFactory = Callable[..., AgentProcess]
NEVER_QUIET = 120.0
"""A resume quiet period beyond every wait here: a silent resume is confirmed by the core's header."""


async def _cut_off(relay: Relay, consumer: StreamConsumer) -> None:
    relay.cut()
    await eventually(lambda: consumer.state != ConsumerState.READY, "the consumer to lose its stream", WAIT)


async def test_a_lost_connection_resumes_from_the_missed_updates(start_agent: AgentFactory) -> None:
    agent = start_agent(telemetry=False)
    async with (
        Relay(agent.port) as relay,
        running_consumer(
            agent, address=relay.address, name="e2e-resume", resume_quiet_period=NEVER_QUIET
        ) as (consumer, _telemetry),
        SettingsClient(agent) as client,
    ):
        await consumer.wait_ready(WAIT)
        await client.set({"hostname": "before-cut"})
        before = await wait_in_sync(consumer, agent)
        epoch = consumer.stats.epoch
        assert epoch, "the core should name its epoch in the snapshot"
        assert (consumer.stats.snapshots, consumer.stats.resumes) == (1, 0)
        changes = consumer.subscribe()

        await _cut_off(relay, consumer)
        await client.set({"log_level": "debug"})
        await client.set({"site": "resumed.example"})
        await client.unset("log_level")  # falls back to the file's value
        assert_view_matches(consumer, before)  # nothing reached the consumer: the last good view
        relay.restore()

        after = await wait_in_sync(consumer, agent)
        assert_view_matches(consumer, after)
        assert after.sequence_id == before.sequence_id + 3
        stats = consumer.stats
        assert (stats.snapshots, stats.resumes, stats.resumes_refused) == (1, 1, 0)
        assert (stats.gaps, stats.registrations, stats.epoch) == (0, 1, epoch)
        assert [await asyncio.wait_for(anext(changes), WAIT) for _ in range(3)] == [
            ChangeEvent("log_level", "info", "debug", Source.AGENT_RUNTIME),
            ChangeEvent("site", "datadoghq.com", "resumed.example", Source.AGENT_RUNTIME),
            ChangeEvent("log_level", "debug", "info", Source.FILE),
        ]

        # Cut again with nothing changing meanwhile: the core sends no event, only its headers
        # ("configstream-resume: accepted"), and the stream is live long before the quiet period.
        await _cut_off(relay, consumer)
        relay.restore()
        await eventually(lambda: consumer.state == ConsumerState.READY, "the silent resume", WAIT)
        assert (consumer.stats.snapshots, consumer.stats.resumes) == (1, 2)
        await client.set({"hostname": "after-resume"})
        assert await asyncio.wait_for(anext(changes), WAIT) == ChangeEvent(
            "hostname", "before-cut", "after-resume", Source.AGENT_RUNTIME
        )
        assert_view_matches(consumer, await wait_in_sync(consumer, agent))
        assert consumer.stats.snapshots == 1


async def test_a_restarted_core_answers_with_a_snapshot_and_a_new_epoch(
    start_agent: AgentFactory, restart: Callable[[AgentProcess], AgentProcess]
) -> None:
    agent = start_agent(telemetry=False)
    async with running_consumer(agent, name="e2e-resume-restart") as (consumer, _telemetry):
        await consumer.wait_ready(WAIT)
        async with SettingsClient(agent) as client:
            await client.set({"log_level": "debug"})
        await wait_in_sync(consumer, agent)
        first_epoch = consumer.stats.epoch

        assert await asyncio.to_thread(agent.stop) == 0
        new = await asyncio.to_thread(restart, agent)
        await eventually(lambda: consumer.stats.snapshots == 2, "a snapshot from the new core", WAIT)
        assert_view_matches(consumer, await wait_in_sync(consumer, new))
        assert consumer.reader().get_string("log_level") == "info"  # the runtime change died with the core
        stats = consumer.stats
        assert (stats.resumes, stats.resumes_refused) == (0, 1)
        assert stats.registrations >= 2  # the new core did not know the old session
        assert stats.epoch and stats.epoch != first_epoch


async def test_a_resume_beyond_the_history_gets_a_snapshot(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.configstream.history_size": 2}, telemetry=False)
    async with (
        Relay(agent.port) as relay,
        running_consumer(agent, address=relay.address, name="e2e-resume-history") as (consumer, _telemetry),
        SettingsClient(agent) as client,
    ):
        await consumer.wait_ready(WAIT)
        epoch = consumer.stats.epoch
        await _cut_off(relay, consumer)
        for level in ("debug", "warn", "error"):  # three missed updates, two held
            await client.set({"log_level": level})
        relay.restore()
        assert_view_matches(consumer, await wait_in_sync(consumer, agent))
        stats = consumer.stats
        assert (stats.snapshots, stats.resumes, stats.resumes_refused) == (2, 0, 1)
        assert (stats.epoch, stats.gaps) == (epoch, 0)


async def test_an_evicted_session_resumes_after_registering_again(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.registry.idle_timeout": "1s"}, telemetry=False)
    # Never refresh: the core evicts the session about a second after each stream starts.
    params: dict[str, Any] = {
        "name": "e2e-resume-evicted",
        "refresh_interval": 0,
        "resume_quiet_period": NEVER_QUIET,  # each resume is confirmed by the core's header
    }
    async with running_consumer(agent, **params) as (consumer, telemetry):
        await consumer.wait_ready(WAIT)
        await eventually(
            lambda: consumer.stats.registrations >= 2, "an eviction and a new registration", WAIT
        )
        await eventually(lambda: consumer.stats.resumes >= 1, "a resume with the new session", WAIT)
        async with SettingsClient(agent) as client:
            await client.set({"hostname": "after-eviction"})
        await eventually(
            lambda: consumer.reader().get_string("hostname") == "after-eviction", "the change", WAIT
        )
        assert_view_matches(consumer, await wait_in_sync(consumer, agent))
        stats = consumer.stats
        assert (stats.snapshots, stats.resumes_refused, stats.gaps) == (1, 0, 0)
        assert telemetry.value("configstream_consumer.resumes") == stats.resumes
