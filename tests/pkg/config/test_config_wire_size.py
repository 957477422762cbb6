"""The computed sizes are the bytes protobuf writes for the same setting in a snapshot."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pkg.config.wire_size import setting_size, text_size, value_size
from pkg.proto.gen.datadog.model.v1 import configstream_pb2 as pb
from pkg.protoconv.values import MAX_EXACT_INT, to_value

VALID_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # no lone surrogates
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.sampled_from([MAX_EXACT_INT, MAX_EXACT_INT + 1, -MAX_EXACT_INT - 1, 0, -1, 127, 128]),
    st.floats(allow_nan=False, allow_infinity=False),
    VALID_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(VALID_TEXT, children, max_size=6)
    ),
    max_leaves=20,
)
SOURCES = st.sampled_from(["", "default", "file", "environment-variable", "agent-runtime"])


def snapshot_entry_size(key: str, source: str, value: Any) -> int:
    """What a setting adds to a snapshot: the snapshot with it minus the snapshot without it."""
    setting = pb.ConfigSetting(key=key, source=source, value=to_value(value))
    with_it = pb.ConfigSnapshot(origin="datadog.yaml", sequence_id=7, settings=[setting])
    return with_it.ByteSize() - pb.ConfigSnapshot(origin="datadog.yaml", sequence_id=7).ByteSize()


@settings(max_examples=100, deadline=None)
@given(VALUES, VALID_TEXT.filter(bool), SOURCES)
def test_sizes_are_those_protobuf_serializes(value: Any, key: str, source: str) -> None:
    assert value_size(value) == len(to_value(value).SerializeToString())
    assert setting_size(key, source, value_size(value)) == snapshot_entry_size(key, source, value)


def test_big_values_and_varint_boundaries() -> None:
    for length in (0, 125, 126, 127, 128, 16_383, 16_384, 2_097_152):
        value = "x" * length
        assert value_size(value) == to_value(value).ByteSize()
        assert setting_size("k", "file", value_size(value)) == snapshot_entry_size("k", "file", value)
    items = ["abc"] * 50_000
    assert value_size(items) == to_value(items).ByteSize()


def test_sizes_are_upper_bounds_where_the_stream_cannot_convert() -> None:
    lone = "a\ud800b"  # sent as null (2 bytes): counted as its 3-byte encoding
    assert text_size(lone) == 5
    assert value_size(lone) >= to_value(None).ByteSize()
    huge = 10**5000  # more digits than Python prints: an upper bound of them
    assert value_size(huge) >= 5001
    assert value_size(-huge) >= 5002
