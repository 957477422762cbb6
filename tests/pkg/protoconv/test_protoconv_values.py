from __future__ import annotations

import math
from collections import OrderedDict
from datetime import timedelta
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from pkg.protoconv.values import (
    MAX_DEPTH,
    MAX_EXACT_INT,
    ValueConversionError,
    fill_value,
    from_value,
    to_value,
)


class Color(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def _wire_round_trip(obj: object) -> Any:
    sent = to_value(obj, path="key")
    return from_value(struct_pb2.Value.FromString(sent.SerializeToString()))


@pytest.mark.parametrize(
    ("obj", "kind", "expected"),
    [
        (None, "null_value", None),
        (True, "bool_value", True),
        (False, "bool_value", False),
        (0, "number_value", 0),
        (-42, "number_value", -42),
        (MAX_EXACT_INT, "number_value", MAX_EXACT_INT),
        (-MAX_EXACT_INT, "number_value", -MAX_EXACT_INT),
        (1.5, "number_value", 1.5),
        ("text", "string_value", "text"),
        ("", "string_value", ""),
        ([1, "a", None], "list_value", [1, "a", None]),
        ((1, 2), "list_value", [1, 2]),
        ([], "list_value", []),
        ({"a": {"b": [True]}}, "struct_value", {"a": {"b": [True]}}),
        ({}, "struct_value", {}),
        (OrderedDict(a=1), "struct_value", {"a": 1}),
        (Color.RED, "string_value", "red"),
        (Level.HIGH, "number_value", 3),
    ],
)
def test_supported_values_round_trip(obj: object, kind: str, expected: object) -> None:
    assert to_value(obj).WhichOneof("kind") == kind
    result = _wire_round_trip(obj)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("number", [MAX_EXACT_INT + 1, -(MAX_EXACT_INT + 1), 2**64, -(10**30)])
def test_integers_beyond_2_53_are_sent_as_exact_decimal_text(number: int) -> None:
    value = to_value(number)
    assert value.WhichOneof("kind") == "string_value"
    assert int(value.string_value) == number


def test_integral_doubles_come_back_as_int_and_others_as_float() -> None:
    assert from_value(struct_pb2.Value(number_value=3.0)) == 3
    assert type(from_value(struct_pb2.Value(number_value=3.0))) is int
    assert type(from_value(struct_pb2.Value(number_value=0.5))) is float
    # Beyond 2**53 a double no longer denotes one integer: it stays a float.
    assert type(from_value(struct_pb2.Value(number_value=1e300))) is float


def test_a_value_without_kind_is_none() -> None:
    assert from_value(struct_pb2.Value()) is None


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=10), "10ms"),
        (timedelta(microseconds=1500), "1.5ms"),
        (timedelta(microseconds=300), "300\u00b5s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=1), "1h0m0s"),
        (timedelta(days=1, seconds=1), "24h0m1s"),
        (-timedelta(seconds=90), "-1m30s"),
    ],
)
def test_timedelta_is_a_go_duration_string(delta: timedelta, text: str) -> None:
    assert to_value(delta) == struct_pb2.Value(string_value=text)


def test_timedelta_beyond_go_range_is_refused() -> None:
    with pytest.raises(ValueConversionError, match="Go duration"):
        to_value(timedelta(days=400 * 365), path="k")


@pytest.mark.parametrize(
    ("obj", "path", "type_name"),
    [
        (b"raw", "k", "bytes"),
        ({"a": [1, float("nan")]}, "k.a[1]", "float"),
        ({"a": float("inf")}, "k.a", "float"),
        ({"a": {1: "x"}}, "k.a", "dict"),
        ([{"b": {1, 2}}], "k[0].b", "set"),
        ({"obj": object()}, "k.obj", "object"),
        (Color, "k", "enum.EnumType"),
        ("\ud800", "k", "str"),
    ],
)
def test_unconvertible_values_name_the_path_and_the_type(obj: object, path: str, type_name: str) -> None:
    with pytest.raises(ValueConversionError) as info:
        to_value(obj, path="k")
    assert info.value.path == path
    assert info.value.type_name == type_name
    assert repr(path) in str(info.value)
    assert f"({type_name})" in str(info.value)


def test_error_messages_do_not_contain_the_value() -> None:
    with pytest.raises(ValueConversionError) as info:
        to_value({"api_key": b"s3cr3t-value"}, path="")
    assert "s3cr3t" not in str(info.value)
    assert "'api_key'" in str(info.value)


def test_error_at_top_level_without_path() -> None:
    with pytest.raises(ValueConversionError, match="at the top level"):
        to_value(b"x")


def test_non_str_key_is_named_in_the_reason() -> None:
    with pytest.raises(ValueConversionError, match=r"key 7 \(int\) is not a str"):
        to_value({7: "x"}, path="k")


def test_self_containing_and_too_deep_values_are_refused() -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(ValueConversionError, match="nested deeper"):
        to_value(looped)

    deepest: list[Any] = []
    nested = deepest
    for _ in range(MAX_DEPTH - 1):
        nested.append([])
        nested = nested[0]
    assert _wire_round_trip(deepest) == deepest  # the deepest accepted value still parses
    nested.append([])
    with pytest.raises(ValueConversionError, match="nested deeper"):
        to_value(deepest)


def test_fill_value_leaves_null_on_error() -> None:
    target = struct_pb2.Value(string_value="before")
    with pytest.raises(ValueConversionError):
        fill_value(target, {"a": 1, "b": b"x"})
    assert target.WhichOneof("kind") == "null_value"


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


def _expected(obj: Any) -> Any:
    """What the receiving side gets back for ``obj``."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj if abs(obj) <= MAX_EXACT_INT else str(obj)
    if isinstance(obj, float):
        return int(obj) if obj.is_integer() and abs(obj) <= MAX_EXACT_INT else obj
    if isinstance(obj, list | tuple):
        return [_expected(item) for item in obj]
    return {key: _expected(item) for key, item in obj.items()}


def _same(left: Any, right: Any) -> bool:
    """Equality that also compares types, so 1 and 1.0 or [] and {} differ."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    return bool(left == right)


@given(_json_like)
def test_round_trip_through_the_wire(obj: Any) -> None:
    assert _same(_wire_round_trip(obj), _expected(obj))
