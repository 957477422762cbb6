"""The floor server's state: one shared snapshot per sequence id, one message per subscriber per update."""

from __future__ import annotations

import asyncio

from bench.floor_server import FloorState, flatten
from pkg.proto.gen.datadog.model.v1 import configstream_pb2


def test_flatten_nested_settings() -> None:
    tree = {"a": {"b": 1, "c": {"D": "x"}}, "e": [1, 2], "f": {}}
    assert flatten(tree) == {"a.b": 1, "a.c.d": "x", "e": [1, 2], "f": {}}


def test_snapshot_is_serialized_once_per_sequence_id() -> None:
    state = FloorState({"log_level": "info", "cmd_port": 5001})
    first = state.snapshot()
    assert state.snapshot() is first
    assert state.snapshot_builds == 1
    event = configstream_pb2.ConfigEvent.FromString(first)
    assert event.snapshot.sequence_id == 0
    assert {s.key: s.source for s in event.snapshot.settings} == {"log_level": "file", "cmd_port": "file"}
    state.set_text({"log_level": "debug"})
    second = configstream_pb2.ConfigEvent.FromString(state.snapshot())
    assert state.snapshot_builds == 2
    assert second.snapshot.sequence_id == 1
    assert {s.key: s.value.string_value for s in second.snapshot.settings}["log_level"] == "debug"


def test_each_key_is_one_update_queued_to_every_subscriber() -> None:
    state = FloorState({})
    queues: list[asyncio.Queue[bytes]] = [asyncio.Queue(), asyncio.Queue()]
    state.queues.update(queues)
    assert state.set_text({"a": "1", "b": "2"}) == 2
    for queue in queues:
        events = [configstream_pb2.ConfigEvent.FromString(queue.get_nowait()) for _ in range(queue.qsize())]
        assert [
            (e.update.sequence_id, e.update.setting.key, e.update.setting.value.string_value) for e in events
        ] == [
            (1, "a", "1"),
            (2, "b", "2"),
        ]
    assert queues[0].qsize() == 0
