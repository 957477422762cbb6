"""Several raw subscribers of a real core agent: each gets everything, and every way a client leaves
(unsubscribing, a cancelled read, a closed channel, a deadline) leaves no subscriber behind.

The core's own account is read from its Prometheus endpoint (``/metrics``): the
``configstream_subscribers`` gauge and the ``snapshots_sent``/``updates_sent`` counters.
"""

from __future__ import annotations

import grpc
import pytest

from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from tests.e2e.harness import AgentProcess
from tests.e2e.stream_support import (
    Metrics,
    SettingsApi,
    StreamClient,
    register,
    scrape,
    view_mismatches,
    wait_metrics,
)

pytestmark = pytest.mark.e2e

SUBSCRIBERS = "configstream_subscribers"
SNAPSHOTS_SENT = "configstream_snapshots_sent_total"
UPDATES_SENT = "configstream_updates_sent_total"
SNAPSHOT_BUILDS = "configstream_snapshot_builds_total"


async def _wait_subscribers(agent: AgentProcess, count: int) -> Metrics:
    return await wait_metrics(agent, lambda m: m.value(SUBSCRIBERS) == count, f"{count} subscribers")


async def test_every_subscriber_gets_everything_and_none_is_left_behind(agent: AgentProcess) -> None:
    before = await scrape(agent)
    assert before.value(SUBSCRIBERS) == 0
    async with agent.aio_channel() as channel, agent.aio_channel() as own_channel:
        api = SettingsApi(agent, channel)
        clients = [
            StreamClient(agent, channel, await register(agent, channel, f"sub{i}"), name=f"sub{i}").start()
            for i in range(3)
        ]
        # One more on a channel of its own, which is closed under it below.
        clients.append(
            StreamClient(agent, own_channel, await register(agent, channel, "own"), name="own").start()
        )
        for client in clients:
            await client.wait_snapshot()
        await _wait_subscribers(agent, 4)

        first = await api.set({"log_level": "debug", "custom.a": "1"})
        await api.set({"tags": "[x, y]"})
        await api.unset("custom.a")
        await api.set({"custom.nested": "{b: 2, c: [3]}"})  # an undeclared map: one update per leaf
        last = await api.unset("log_level")
        core = await api.view()
        assert core.sequence_id == last
        changes = last - first + 2  # the first call changed two keys
        for client in clients:
            await client.wait_sequence_id(last)

        # The same snapshot, then the same updates, in the same order, for every subscriber.
        reference = clients[0]
        assert reference.snapshots[0].sequence_id == first - 2
        assert len(reference.events) == 1 + changes
        for client in clients:
            assert client.events == reference.events
            assert len(client.snapshots) == 1
            assert client.updates == changes
            assert not client.violations
            assert view_mismatches(client.view, core) == []

        metrics = await scrape(agent)
        assert metrics.value(SUBSCRIBERS) == 4
        assert metrics.value(SNAPSHOTS_SENT) - before.value(SNAPSHOTS_SENT) == 4
        assert metrics.value(UPDATES_SENT) - before.value(UPDATES_SENT) == 4 * changes
        assert metrics.value(SNAPSHOT_BUILDS) - before.value(SNAPSHOT_BUILDS) == 1, "one snapshot, shared"

        # Unsubscribe: the client cancels its call.
        await clients[0].cancel()
        await _wait_subscribers(agent, 3)

        # The task reading the stream is cancelled while it waits for the next event.
        await clients[1].abandon()
        await _wait_subscribers(agent, 2)

        # The channel is closed with the stream open.
        await own_channel.close()
        await clients[3].wait_ended()
        await _wait_subscribers(agent, 1)

        # The deadline of a call passes.
        deadline = StreamClient(
            agent, channel, await register(agent, channel, "deadline"), name="deadline", timeout=1.0
        ).start()
        await deadline.wait_snapshot()
        await _wait_subscribers(agent, 2)
        error = await deadline.wait_ended()
        assert error is not None and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await _wait_subscribers(agent, 1)

        await clients[2].cancel()
        after = await _wait_subscribers(agent, 0)
        status = await settings_pb2_grpc.SettingsStub(channel).Status(
            settings_pb2.StatusRequest(), metadata=agent.auth_metadata(), timeout=5
        )
        assert status.stream_subscribers == 0
    assert after.value(SNAPSHOTS_SENT) - before.value(SNAPSHOTS_SENT) == 5
    assert after.value(UPDATES_SENT) - before.value(UPDATES_SENT) == 4 * changes
    agent.wait_for_log(r"config stream: 'deadline' \(session [0-9a-f-]+\) ended after 1 events")
