"""Python values to and from ``google.protobuf.Value``.

========================  ==========================================================
Python                    ``google.protobuf.Value``
========================  ==========================================================
``None``                  ``null_value``
``bool``                  ``bool_value``
``int``, ``|v| <= 2**53``  ``number_value`` (exact: every such integer is a double)
``int``, ``|v| > 2**53``   ``string_value`` holding the decimal digits (see below)
``float`` (finite)        ``number_value``
``str``                   ``string_value``
``timedelta``             ``string_value`` in Go syntax (``"1m30s"``, ``"10ms"``)
``list``, ``tuple``       ``list_value``
``dict`` (``str`` keys)    ``struct_value``
========================  ==========================================================

Every number in a ``Value`` is a double, which holds integers exactly only up to 2**53. A larger
integer is sent as its decimal text rather than silently rounded: a Go reader's ``GetInt64`` and
this project's typed getters parse numeric text, so the exact value arrives.

Anything else (bytes, sets, NaN or infinity, a dict with a non-``str`` key, arbitrary objects,
nesting deeper than :data:`MAX_DEPTH`) raises :class:`ValueConversionError` naming where the value
is (``"logs_config.rules[2].name"``) and its type. The message never contains the value itself,
which may be a secret.

:func:`from_value` is the inverse: numbers that are integral and within 2**53 come back as ``int``,
lists as ``list``, structs as ``dict``. Durations and large integers come back as ``str``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from google.protobuf import struct_pb2

from pkg.config.durations import format_duration

__all__ = ["MAX_DEPTH", "MAX_EXACT_INT", "ValueConversionError", "fill_value", "from_value", "to_value"]

MAX_EXACT_INT = 2**53
"""Integers with a larger magnitude are sent as decimal text."""

MAX_DEPTH = 32
"""Deepest nesting of lists and dicts accepted. Each level costs protobuf three levels of nesting
(Value, Struct or ListValue, map entry) and parsers refuse messages nested deeper than 100."""

_GO_DURATION_MAX_NS = 2**63 - 1
_EXPECTED = "expected None, bool, int, float, str, timedelta, list, tuple or dict with str keys"


class ValueConversionError(ValueError):
    """A value cannot be represented as a ``google.protobuf.Value``.

    ``path`` locates it (``""`` for the top level), ``type_name`` is its type, ``reason`` says why.
    """

    def __init__(self, path: str, type_name: str, reason: str) -> None:
        self.path = path
        self.type_name = type_name
        self.reason = reason
        where = repr(path) if path else "the top level"
        super().__init__(f"cannot convert the value at {where} ({type_name}): {reason}")


def to_value(obj: object, *, path: str = "") -> struct_pb2.Value:
    """``obj`` as a new ``Value``; ``path`` (e.g. the config key) prefixes locations in errors."""
    target = struct_pb2.Value()
    fill_value(target, obj, path=path)
    return target


def fill_value(target: struct_pb2.Value, obj: object, *, path: str = "") -> None:
    """Write ``obj`` into ``target`` in place (no copy, for values inside a bigger message).

    On error ``target`` is left holding null and :class:`ValueConversionError` is raised.
    """
    try:
        _fill(target, obj, path, 0)
    except ValueConversionError:
        target.Clear()
        target.null_value = struct_pb2.NULL_VALUE
        raise


def from_value(value: struct_pb2.Value) -> Any:
    """The Python value of a ``Value``; a ``Value`` with no kind set is ``None``."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":  # the commonest in a config
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) <= MAX_EXACT_INT:
            return int(number)
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: from_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    return None


def _type_name(obj: object) -> str:
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _fill(target: struct_pb2.Value, obj: object, path: str, depth: int) -> None:
    # Ordered by frequency in configurations; bool before int because bool is an int.
    if isinstance(obj, str):
        _set_text(target, str.__str__(obj), path, obj)
    elif obj is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        target.bool_value = obj
    elif isinstance(obj, int):
        number = int(obj)
        if -MAX_EXACT_INT <= number <= MAX_EXACT_INT:
            target.number_value = float(number)
        else:
            target.string_value = str(number)
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueConversionError(
                path, _type_name(obj), "NaN and infinities have no protobuf representation"
            )
        target.number_value = obj
    elif isinstance(obj, Mapping):
        _check_depth(obj, path, depth)
        struct = target.struct_value
        struct.SetInParent()
        for key, item in obj.items():
            if not isinstance(key, str):
                raise ValueConversionError(
                    path, _type_name(obj), f"key {key!r:.40} ({_type_name(key)}) is not a str"
                )
            item_path = f"{path}.{key}" if path else key
            try:
                slot = struct.fields[key]
            except (ValueError, UnicodeError) as exc:
                raise ValueConversionError(path, _type_name(obj), "a key is not valid UTF-8 text") from exc
            _fill(slot, item, item_path, depth + 1)
    elif isinstance(obj, list | tuple):
        _check_depth(obj, path, depth)
        values = target.list_value
        values.SetInParent()
        for index, item in enumerate(obj):
            _fill(values.values.add(), item, f"{path}[{index}]", depth + 1)
    elif isinstance(obj, timedelta):
        nanoseconds = ((obj.days * 86_400 + obj.seconds) * 1_000_000 + obj.microseconds) * 1_000
        if abs(nanoseconds) > _GO_DURATION_MAX_NS:
            raise ValueConversionError(path, "timedelta", "beyond a Go duration's range (about 292 years)")
        target.string_value = format_duration(obj)
    elif isinstance(obj, bytes | bytearray | memoryview):
        raise ValueConversionError(path, _type_name(obj), f"binary data is not supported; {_EXPECTED}")
    else:
        raise ValueConversionError(path, _type_name(obj), f"unsupported type; {_EXPECTED}")


def _set_text(target: struct_pb2.Value, text: str, path: str, original: object) -> None:
    try:
        target.string_value = text
    except (ValueError, UnicodeError) as exc:  # lone surrogates cannot be encoded as UTF-8
        raise ValueConversionError(path, _type_name(original), "not valid UTF-8 text") from exc


def _check_depth(obj: object, path: str, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise ValueConversionError(
            path, _type_name(obj), f"nested deeper than {MAX_DEPTH} levels (or contains itself)"
        )
