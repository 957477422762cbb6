"""Subscribers that do not keep up with a real core agent: the writer never waits for them, the core's
memory stays bounded, and each of them converges to the core's settings without reconnecting.

A stalled subscriber reads on :func:`stream_support.narrow_channel` (a 1 KiB receive window): the
core's sends to it back up after a few events, so the producer's bounded queue fills at once, as it
would for a client that stopped reading behind a slow network. On an ordinary channel the client's
window grows to megabytes first.
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
    wait_metrics,
)

pytestmark = pytest.mark.e2e

QUEUE_SIZE = "remote_agent.configstream.queue_size"
HISTORY_SIZE = "remote_agent.configstream.history_size"


async def test_a_slow_subscriber_among_ten_does_not_hold_the_writer(start_agent: AgentFactory) -> None:
    queue_size = 50
    sets = 1000
    agent = start_agent({QUEUE_SIZE: queue_size})  # history: the default 10000 holds every set
    before = await scrape(agent)
    async with agent.aio_channel() as channel, narrow_channel(agent) as slow_channel:
        api = SettingsApi(agent, channel)
        slow = StreamClient(agent, slow_channel, await register(agent, channel, "slow"), name="slow").start()
        fast = [
            StreamClient(agent, channel, await register(agent, channel, f"fast{i}"), name=f"fast{i}").start()
            for i in range(9)
        ]
        clients = [slow, *fast]
        try:
            for client in clients:
                await client.wait_snapshot()
            slow.gate.clear()  # reads nothing more until the writer is done

            last = 0
            for i in range(sets):
                last = await api.set({f"custom.key{i % 10}": f"value {i} " + "x" * 100})
            # The writer is done while the slow subscriber is still at its snapshot (it may have
            # taken the one event its pending read was waiting for), and the core had to mark it
            # lagging for that: its queue holds only queue_size events.
            slow_progress = slow.updates
            at_writer_end = await scrape(agent)
            assert slow_progress <= 1
            assert at_writer_end.value("configstream_lagging_total") > before.value(
                "configstream_lagging_total"
            )
            assert at_writer_end.value("configstream_dropped_updates_total") > 0
            agent.wait_for_log(r"config stream subscriber slow \(\d+\) is not keeping up")

            slow.gate.set()
            core = await api.view()
            assert core.sequence_id == last
            for client in clients:
                await client.wait_sequence_id(last)
        finally:
            for client in clients:
                await client.cancel()

    snapshot_id = slow.snapshots[0].sequence_id
    for client in clients:
        assert client.calls == 1
        assert client.error is None, client.error
        assert len(client.snapshots) == 1, "the history held every update: no resync"
        assert client.snapshots[0].sequence_id == snapshot_id
        assert client.updates == sets
        assert not client.violations
        assert view_mismatches(client.view, core) == []

    metrics = await wait_metrics(agent, lambda m: m.value("configstream_subscribers") == 0, "no subscriber")
    assert metrics.value("configstream_catch_ups_total") >= 1
    assert metrics.total("configstream_resyncs_total") == 0
    assert metrics.value("configstream_snapshots_sent_total") == 10
    assert metrics.value("configstream_updates_sent_total") == 10 * sets
    agent.wait_for_log(r"config stream subscriber slow caught up from history")


# Memory bound of the stalled subscriber test. While a subscriber reads nothing the core holds, for
# the stream: at most QUEUE events in its queue and HISTORY in the shared history (references to the
# same immutable payloads), plus one cached snapshot of the 100 keys, plus what its HTTP/2 stream
# buffers (bounded by flow control: tens of KiB). Each update carries a value of VALUE_BYTES, so an
# event costs about VALUE_BYTES + EVENT_OVERHEAD (protobuf framing, key, origin, the bytes and
# StreamEvent objects). SLACK_KIB covers what is not the stream's: allocator arenas that grow while
# 100 SetSettings requests of 100 KiB are parsed, grpc's buffers, logging (about 1.2 MiB measured
# with history_size 0).
# A design that kept every update for the stalled subscriber would hold UPDATES * VALUE_BYTES
# (about 9.5 MiB) at least: above the bound.
QUEUE = 50
HISTORY = 1000
UPDATES = 10_000
KEYS = 100
VALUE_BYTES = 1000
EVENT_OVERHEAD = 300
SLACK_KIB = 3 * 1024
WARMUP_ROUNDS = 3
BOUND_KIB = ((QUEUE + HISTORY + KEYS) * (VALUE_BYTES + EVENT_OVERHEAD)) // 1024 + SLACK_KIB


def _values(round_number: int) -> dict[str, str]:
    # "@" cannot start a YAML token: the Settings API keeps such text as it is after one failed
    # token instead of scanning the whole value, which keeps 100 sets of 100 values cheap.
    return {f"custom.big{k}": f"@{round_number}:{k}:" + "v" * VALUE_BYTES for k in range(KEYS)}


async def test_a_stalled_subscriber_costs_bounded_memory_then_resyncs(start_agent: AgentFactory) -> None:
    assert BOUND_KIB < UPDATES * VALUE_BYTES // 1024
    agent = start_agent({QUEUE_SIZE: QUEUE, HISTORY_SIZE: HISTORY})
    async with agent.aio_channel() as channel, narrow_channel(agent) as stalled_channel:
        api = SettingsApi(agent, channel)
        stalled = StreamClient(
            agent, stalled_channel, await register(agent, channel, "stalled"), name="stalled"
        ).start()
        try:
            await stalled.wait_snapshot()
            # The keys exist from here on: the config's own size stays the same while updates flow.
            # Warm-up while it still reads: large requests are parsed on a worker thread, whose
            # allocator arena is made here rather than counted as the stream's memory.
            for warm in range(WARMUP_ROUNDS):
                await stalled.wait_sequence_id(await api.set(_values(-1 - warm)))
            await stalled.wait_sequence_id(await api.set(_values(0)))
            baseline = await scrape(agent)
            stalled.gate.clear()
            rss_before = memory_kib(agent.pid)

            last = 0
            for round_number in range(1, UPDATES // KEYS + 1):
                last = await api.set(_values(round_number))  # one update per key
            at_writer_end = await scrape(agent)
            rss_after = memory_kib(agent.pid)
            peak = memory_kib(agent.pid, "VmHWM")
            growth = rss_after - rss_before
            print(
                f"core RSS {rss_before} KiB -> {rss_after} KiB (growth {growth} KiB, bound {BOUND_KIB} KiB, "
                f"peak {peak} KiB) over {UPDATES} updates of {VALUE_BYTES} bytes; the stalled subscriber "
                f"had {stalled.updates} updates"
            )
            assert growth < BOUND_KIB
            read_before_stall = (WARMUP_ROUNDS + 1) * KEYS
            assert stalled.updates <= read_before_stall + 1, "it read nothing after the stall began"
            assert at_writer_end.value("configstream_lagging_total") > baseline.value(
                "configstream_lagging_total"
            )
            # It is far behind: beyond its queue, nearly every update was not queued for it.
            dropped = at_writer_end.value("configstream_dropped_updates_total") - baseline.value(
                "configstream_dropped_updates_total"
            )
            assert dropped >= UPDATES - QUEUE - 100

            stalled.gate.set()
            core = await api.view()
            assert core.sequence_id == last
            await stalled.wait_sequence_id(last)
            assert stalled.calls == 1
            assert stalled.error is None
            assert not stalled.violations
            assert view_mismatches(stalled.view, core) == []
            # It fell out of the history (HISTORY < UPDATES): a fresh snapshot brought it back.
            assert len(stalled.snapshots) == 2
            assert stalled.snapshots[1].sequence_id == last
        finally:
            await stalled.cancel()

    metrics = await scrape(agent)
    resyncs = metrics.value("configstream_resyncs_total", cause="fell_behind") - baseline.value(
        "configstream_resyncs_total", cause="fell_behind"
    )
    assert resyncs == 1
    assert metrics.value("configstream_catch_ups_total") == baseline.value("configstream_catch_ups_total")
    agent.wait_for_log(r"config stream subscriber stalled fell out of the history")
