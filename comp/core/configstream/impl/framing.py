"""Wire framing of the stream's extension events from already serialized ``ConfigEvent`` bytes.

An update is converted and serialized once (``ConfigEvent{update = 2}``) and shared by every
subscriber. The extensions reuse those bytes instead of converting again:

- ``ConfigUpdate.previous_sequence_id`` (field 100, a varint) is appended to the update's body and the
  body wrapped again: protobuf reads fields in any order, so the result parses as the same update with
  that field set.
- ``ConfigEvent.batch`` (field 100) holds a ``ConfigBatch`` whose field 1 repeats each update's body,
  length-delimited, in order.

Only ``ConfigProgress`` is built with the protobuf runtime: it is rare and small.
"""

from __future__ import annotations

from collections.abc import Sequence

from pkg.config.wire_size import varint_size
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.configevents import varint, wire_sequence_id

__all__ = [
    "PREVIOUS_FIELD_MAX_BYTES",
    "batch_entry_size",
    "batch_event",
    "batch_event_with_previous",
    "batch_size",
    "progress_event",
    "update_body",
    "update_event_with_previous",
]

_UPDATE_TAG = b"\x12"  # ConfigEvent.update: field 2, length-delimited
_BATCH_TAG = b"\xa2\x06"  # ConfigEvent.batch: field 100, length-delimited
_BATCH_ENTRY_TAG = b"\x0a"  # ConfigBatch.updates: field 1, length-delimited
_PREVIOUS_TAG = b"\xa0\x06"  # ConfigUpdate.previous_sequence_id: field 100, varint


def update_body(payload: bytes) -> memoryview:
    """The serialized ``ConfigUpdate`` inside a serialized ``ConfigEvent{update}`` (its only field)."""
    if payload[:1] != _UPDATE_TAG:
        raise ValueError("not a serialized ConfigEvent holding an update")
    shift = length = 0
    index = 1
    while True:
        byte = payload[index]
        index += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    if index + length != len(payload):
        raise ValueError("a serialized ConfigEvent holding more than one update")
    return memoryview(payload)[index:]


def _previous_field(previous_sequence_id: int) -> bytes:
    return _PREVIOUS_TAG + varint(wire_sequence_id(previous_sequence_id))


def update_event_with_previous(body: bytes | memoryview, previous_sequence_id: int) -> bytes:
    """A serialized ``ConfigEvent{update}``: ``body`` with ``previous_sequence_id`` appended."""
    field = _previous_field(previous_sequence_id)
    return b"".join((_UPDATE_TAG, varint(len(body) + len(field)), body, field))


PREVIOUS_FIELD_MAX_BYTES = len(_PREVIOUS_TAG) + 10
"""Largest ``previous_sequence_id`` field appended to an update (a negative int32 takes 10 bytes)."""


def batch_entry_size(body_size: int) -> int:
    """Bytes an update body of ``body_size`` bytes takes inside a ``ConfigBatch``."""
    return 1 + varint_size(body_size) + body_size


def batch_size(inner_size: int) -> int:
    """Bytes of the ``ConfigEvent{batch}`` whose entries take ``inner_size`` bytes in all."""
    return len(_BATCH_TAG) + varint_size(inner_size) + inner_size


def batch_event(bodies: Sequence[bytes | memoryview]) -> bytes:
    """A serialized ``ConfigEvent{batch}`` of these update bodies, in order."""
    parts: list[bytes | memoryview] = []
    for body in bodies:
        parts.append(_BATCH_ENTRY_TAG + varint(len(body)))
        parts.append(body)
    inner = b"".join(parts)
    return _BATCH_TAG + varint(len(inner)) + inner


def batch_event_with_previous(
    bodies: Sequence[bytes | memoryview], ids: Sequence[int], previous_sequence_id: int
) -> bytes:
    """A serialized ``ConfigEvent{batch}`` whose updates each carry the id of the event before them:
    the first one ``previous_sequence_id``, each next one its predecessor's id (``ids``)."""
    parts: list[bytes | memoryview] = []
    previous = previous_sequence_id
    for body, sequence_id in zip(bodies, ids, strict=True):
        field = _previous_field(previous)
        parts.append(_BATCH_ENTRY_TAG + varint(len(body) + len(field)))
        parts.append(body)
        parts.append(field)
        previous = sequence_id
    inner = b"".join(parts)
    return _BATCH_TAG + varint(len(inner)) + inner


def progress_event(sequence_id: int, epoch: str) -> bytes:
    """A serialized ``ConfigEvent{progress}``."""
    event = configstream_pb2.ConfigEvent()
    event.progress.sequence_id = wire_sequence_id(sequence_id)
    event.progress.epoch = epoch
    return event.SerializeToString()
