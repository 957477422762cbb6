"""The subscriber process's accounting of received events."""

from __future__ import annotations

import asyncio

import grpc

from bench.subscribers import Fleet, SubscriberState, parse_timestamp
from pkg.proto.gen.datadog.model.v1 import configstream_pb2


def _snapshot(seq: int) -> bytes:
    snap = configstream_pb2.ConfigSnapshot(origin="o", sequence_id=seq)
    return configstream_pb2.ConfigEvent(snapshot=snap).SerializeToString()


def _update(seq: int, value: str) -> bytes:
    setting = configstream_pb2.ConfigSetting(key="bench.latency", source="agent-runtime")
    setting.value.string_value = value
    update = configstream_pb2.ConfigUpdate(origin="o", sequence_id=seq, setting=setting)
    return configstream_pb2.ConfigEvent(update=update).SerializeToString()


def _subs(count: int) -> list[SubscriberState]:
    return [SubscriberState(i, channel=None) for i in range(count)]  # type: ignore[arg-type]


def test_parse_timestamp() -> None:
    assert parse_timestamp("ts-123") == 123
    assert parse_timestamp("ts-123-7") == 123
    assert parse_timestamp("ts-") is None
    assert parse_timestamp("info") is None


async def test_snapshots_then_latency_samples_and_reach() -> None:
    now = [10_000_000]
    fleet = Fleet(2, clock=lambda: now[0])
    subs = _subs(2)
    fleet.on_event(subs[0], _snapshot(5))
    assert not fleet.all_snapshotted.is_set()
    fleet.on_event(subs[1], _snapshot(5))
    assert fleet.all_snapshotted.is_set()

    fleet.expect(7, subs)
    for sub in subs:
        fleet.on_event(sub, _update(6, "ts-9000000"))
    assert not fleet.reached.is_set()
    fleet.on_event(subs[0], _update(7, "ts-9500000"))
    assert not fleet.reached.is_set()
    now[0] = 12_000_000
    fleet.on_event(subs[1], _update(7, "plain"))
    assert fleet.reached.is_set()
    assert fleet.reached_ns == 12_000_000

    stats = fleet.take_stats()
    assert stats["received"] == 6
    assert stats["snapshots"] == 2
    assert stats["updates"] == 4
    assert stats["latencies_us"] == [1000, 1000, 500]
    assert (stats["gaps"], stats["out_of_order"]) == (0, 0)
    assert fleet.take_stats()["received"] == 0


async def test_gaps_and_out_of_order_are_counted_and_a_resync_snapshot_reaches() -> None:
    fleet = Fleet(1)
    (sub,) = _subs(1)
    fleet.on_event(sub, _snapshot(1))
    fleet.on_event(sub, _update(3, "x"))
    fleet.on_event(sub, _update(2, "x"))
    fleet.expect(10, [sub])
    fleet.on_event(sub, _snapshot(12))
    assert fleet.reached.is_set()
    stats = fleet.take_stats()
    assert (stats["gaps"], stats["out_of_order"]) == (1, 1)


async def test_expect_a_seen_id_is_reached_at_once_and_failures_release_waiters() -> None:
    fleet = Fleet(1)
    (sub,) = _subs(1)
    fleet.on_event(sub, _snapshot(4))
    fleet.expect(3, [sub])
    assert fleet.reached.is_set()
    fleet.expect(9, [sub])
    assert not fleet.reached.is_set()
    fleet.on_failure(sub, f"{grpc.StatusCode.PERMISSION_DENIED.name}: gone")
    await asyncio.wait_for(fleet.reached.wait(), 1)
    assert fleet.errors == ["subscriber 0: PERMISSION_DENIED: gone"]
