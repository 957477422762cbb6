"""The consumer's keepalive against a real core agent: a hung core (SIGSTOP) is noticed and the last
good view keeps answering; a healthy core tolerates the most frequent pings a consumer may send.

A stopped process keeps its socket open (the kernel still acknowledges TCP), so without HTTP/2
pings the stream would stay silent forever; only the consumer's pings reveal the hang.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from comp.core.configstreamconsumer.def_ import MIN_KEEPALIVE_TIME, ConsumerState
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


async def test_a_hung_core_is_noticed_and_the_last_view_keeps_answering(start_agent: AgentFactory) -> None:
    agent = start_agent(telemetry=False)
    async with running_consumer(agent, name="e2e-hung", keepalive_time=1.0, keepalive_timeout=1.0) as (
        consumer,
        _telemetry,
    ):
        await consumer.wait_ready(WAIT)
        async with SettingsClient(agent) as client:
            await client.set({"log_level": "debug"})
        before = await wait_in_sync(consumer, agent)

        agent.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            await eventually(lambda: consumer.state != ConsumerState.READY, "the hang to be noticed", WAIT)
            print(
                f"hung core noticed after {time.monotonic() - started:.2f}s"
            )  # shown with -s; about time + timeout
            assert "ping timeout" in (consumer.stats.last_error or "").lower(), consumer.stats.last_error
            assert_view_matches(consumer, before)  # the last good view keeps answering
            assert consumer.reader().get_string("log_level") == "debug"
        finally:
            agent.send_signal(signal.SIGCONT)

        after = await wait_in_sync(consumer, agent)
        assert_view_matches(consumer, after)
        assert consumer.stats.reconnects >= 1


PINGS = 6
"""Client writes awaited on the live, silent stream: a few may be flow-control frames sent right
after the snapshot, the rest are pings, well past the server's default tolerance of two."""


async def test_the_most_frequent_keepalive_is_not_punished_by_the_core(start_agent: AgentFactory) -> None:
    agent = start_agent(telemetry=False)
    # refresh_interval=0: no refresh calls, so the stream's connection carries only pings.
    async with (
        Relay(agent.port) as relay,
        running_consumer(
            agent,
            address=relay.address,
            name="e2e-pings",
            keepalive_time=MIN_KEEPALIVE_TIME,
            refresh_interval=0,
        ) as (consumer, _telemetry),
    ):
        await consumer.wait_ready(WAIT)
        await wait_in_sync(consumer, agent)
        baseline = relay.client_writes
        started = time.monotonic()
        await eventually(lambda: relay.client_writes >= baseline + PINGS, f"{PINGS} client writes", WAIT)
        print(f"{relay.client_writes - baseline} writes in {time.monotonic() - started:.2f}s")
        # A GOAWAY (too_many_pings) would end the stream: a reconnect and a second connection.
        assert consumer.state == ConsumerState.READY
        assert consumer.stats.reconnects == 0, consumer.stats.last_error
        assert relay.connections == 1
