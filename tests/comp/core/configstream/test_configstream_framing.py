"""Extension events framed from already serialized updates parse as the protobuf runtime reads them."""

from __future__ import annotations

import pytest

from comp.core.configstream.impl import framing
from pkg.config.change import ConfigChange
from pkg.config.sources import Source
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.configevents import update_event, varint


def _payload(key: str, value: object, sequence_id: int) -> bytes:
    change = ConfigChange(key, None, value, Source.FILE, sequence_id)
    return update_event("core-agent", change).SerializeToString()


@pytest.mark.parametrize("value", [1, 127, 128, 300, 2**31 - 1, -1, -(2**31)])
def test_varint_matches_the_runtime(value: int) -> None:
    message = configstream_pb2.ConfigUpdate(previous_sequence_id=value)
    assert message.SerializeToString() == b"\xa0\x06" + varint(value)


def test_an_update_with_its_previous_id_parses_as_the_same_update_plus_the_field() -> None:
    payload = _payload("log_level", "x" * 200, 7)  # a body over 127 bytes: a two-byte length
    for previous in (6, 2**31 + 5):  # the second wraps to a negative int32 on the wire
        event = configstream_pb2.ConfigEvent.FromString(
            framing.update_event_with_previous(framing.update_body(payload), previous)
        )
        expected = configstream_pb2.ConfigEvent.FromString(payload)
        expected.update.previous_sequence_id = previous if previous < 2**31 else previous - 2**32
        assert event == expected


def test_a_batch_holds_the_updates_in_order() -> None:
    payloads = [_payload(f"k{i}", i, i) for i in range(1, 4)]
    batch = configstream_pb2.ConfigEvent.FromString(
        framing.batch_event([framing.update_body(p) for p in payloads])
    )
    assert batch.WhichOneof("event") == "batch"
    assert list(batch.batch.updates) == [configstream_pb2.ConfigEvent.FromString(p).update for p in payloads]
    inner = sum(framing.batch_entry_size(len(framing.update_body(p))) for p in payloads)
    assert framing.batch_size(inner) == len(framing.batch_event([framing.update_body(p) for p in payloads]))


def test_a_batch_with_previous_ids_chains_them() -> None:
    payloads = [_payload(f"k{i}", i, i) for i in (3, 5)]
    event = framing.batch_event_with_previous([framing.update_body(p) for p in payloads], [3, 5], 1)
    assert [u.previous_sequence_id for u in configstream_pb2.ConfigEvent.FromString(event).batch.updates] == [
        1,
        3,
    ]


def test_a_snapshot_is_not_an_update_body() -> None:
    snapshot = configstream_pb2.ConfigEvent(
        snapshot=configstream_pb2.ConfigSnapshot(origin="o")
    ).SerializeToString()
    with pytest.raises(ValueError, match="not a serialized ConfigEvent holding an update"):
        framing.update_body(snapshot)


def test_progress_event() -> None:
    event = configstream_pb2.ConfigEvent.FromString(framing.progress_event(9, "e1"))
    assert (event.progress.sequence_id, event.progress.epoch) == (9, "e1")
