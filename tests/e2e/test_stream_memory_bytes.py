"""The core's memory is bounded in bytes, not only in counts: large values through a real core with a
stalled subscriber.

Counts stay at their defaults (a history of 10,000 updates, queues of 1,000 events), far above the
number of updates here: only the byte budgets can bound what the core keeps. The bound on the growth
of the core's RSS while the subscriber reads nothing is::

    history_max_bytes + queue_max_bytes (+ one event in flight) + one cached snapshot + slack

(see ``comp/core/configstream/impl/producer.py``). A design bounded by counts only would keep every
update: UPDATES * VALUE_BYTES, well above the bound.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import AgentFactory
from tests.e2e.stream_support import (
    SettingsApi,
    StreamClient,
    memory_kib,
    narrow_channel,
    register,
    scrape,
    view_mismatches,
)

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
HISTORY_MAX_BYTES = 4 * MIB
QUEUE_MAX_BYTES = 1 * MIB
VALUE_BYTES = 900 * 1024  # under the config's own limit on one value (1 MiB)
UPDATES = 80
WARMUP = 6
# Not the history's: allocator arenas that grow while 900 KiB requests are received, parsed and
# converted (freed blocks of that size are kept by malloc), grpc's buffers. Measured after the warm-up:
# 18-29 MiB of growth over 80 updates, 20 MiB over 200 (it does not grow with the number of updates);
# 70 MiB or more for a design bounded by counts only. The cached snapshot holds one value of
# VALUE_BYTES (with its epoch copy: two).
SLACK_KIB = 24 * 1024
BOUND_KIB = (HISTORY_MAX_BYTES + 2 * QUEUE_MAX_BYTES + 2 * VALUE_BYTES) // 1024 + SLACK_KIB


async def test_large_values_with_a_stalled_subscriber_cost_at_most_the_byte_budgets(
    start_agent: AgentFactory,
) -> None:
    assert BOUND_KIB < UPDATES * VALUE_BYTES // 1024
    agent = start_agent(
        {
            "remote_agent.configstream.history_max_bytes": HISTORY_MAX_BYTES,
            "remote_agent.configstream.queue_max_bytes": QUEUE_MAX_BYTES,
        }
    )
    async with agent.aio_channel() as channel, narrow_channel(agent) as stalled_channel:
        api = SettingsApi(agent, channel)
        stalled = StreamClient(
            agent, stalled_channel, await register(agent, channel, "stalled"), name="stalled"
        ).start()
        try:
            await stalled.wait_snapshot()
            # The key exists from here on, at its full size: the config's own size stays the same.
            # Warm-up while it still reads: the allocator's arenas for receiving and parsing large
            # requests (parsed on a worker thread) are made here, not counted as the stream's memory.
            for i in range(WARMUP):
                await stalled.wait_sequence_id(await api.set({"custom.big": f"@w{i}:" + "v" * VALUE_BYTES}))
            baseline = await scrape(agent)
            stalled.gate.clear()
            rss_before = memory_kib(agent.pid)

            last = 0
            for i in range(1, UPDATES + 1):
                last = await api.set({"custom.big": f"@{i}:" + "v" * VALUE_BYTES})
            rss_after = memory_kib(agent.pid)
            growth = rss_after - rss_before
            print(
                f"core RSS {rss_before} KiB -> {rss_after} KiB (growth {growth} KiB, bound {BOUND_KIB} KiB) "
                f"over {UPDATES} updates of {VALUE_BYTES // 1024} KiB"
            )
            assert growth < BOUND_KIB
            at_writer_end = await scrape(agent)
            assert at_writer_end.value("configstream_lagging_total") > baseline.value(
                "configstream_lagging_total"
            )

            stalled.gate.set()  # nothing is lost: it converges to the core's settings
            core = await api.view()
            assert core.sequence_id == last
            await stalled.wait_sequence_id(last)
            assert stalled.error is None
            assert not stalled.violations
            assert view_mismatches(stalled.view, core) == []
            assert len(stalled.snapshots) == 2, "it fell out of the 4 MiB history: a fresh snapshot"
        finally:
            await stalled.cancel()
