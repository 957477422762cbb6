"""Serialized sizes of settings, as the config stream sends them, computed without protobuf.

A setting travels as a ``ConfigSetting {source = 1; key = 2; google.protobuf.Value value = 3}``
inside the repeated field 3 of a ``ConfigSnapshot``. :func:`value_size` is the size of the value's
``google.protobuf.Value`` as :mod:`pkg.protoconv.values` converts it (integers beyond 2**53 travel as
decimal text), :func:`setting_size` that of the whole snapshot entry. Both are exact for plain values
whose text is valid UTF-8 and whose mapping keys are not empty; otherwise they are upper bounds (the
stream sends a value it cannot convert as null, and protobuf may leave an empty map key out).
The tests compare them with protobuf's own serialization.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["field_size", "setting_size", "text_size", "value_size", "varint_size"]

_MAX_EXACT_INT = 2**53
_NUMBER = 9  # tag + 8-byte double
_SMALL = 2  # tag + one-byte varint: null, bool
_PRINTABLE = 10**4000  # Python refuses to print an int of more than 4300 digits


def varint_size(n: int) -> int:
    """Bytes of ``n`` as a protobuf varint (n >= 0)."""
    return 1 if n < 0x80 else (n.bit_length() + 6) // 7


def field_size(body: int) -> int:
    """A length-delimited field with a one-byte tag around ``body`` bytes."""
    return 1 + varint_size(body) + body


def text_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (a lone surrogate counts as the 3 bytes it would take)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _digits(number: int) -> int:
    """Characters of ``str(number)``, without building the text (huge ints cannot be printed)."""
    magnitude = abs(number)
    if magnitude < _PRINTABLE:
        return len(str(magnitude)) + (number < 0)
    return magnitude.bit_length() * 1233 // 4096 + 2  # >= digits: log10(2) < 1233/4096; + sign


def value_size(value: Any) -> int:
    """Bytes of ``value`` as a ``google.protobuf.Value`` message (the body, without a field tag).

    Plain values only (None, bool, int, float, str, list, tuple, mapping), nested at most as deep as
    the config allows (this recurses).
    """
    if isinstance(value, str):
        return field_size(text_size(value))
    if value is None or isinstance(value, bool):
        return _SMALL
    if isinstance(value, int):
        if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
            return _NUMBER
        return field_size(_digits(value))
    if isinstance(value, float):
        return _NUMBER
    if isinstance(value, list | tuple):
        return field_size(sum(field_size(value_size(item)) for item in value))
    if isinstance(value, Mapping):
        entries = (field_size(text_size(str(k))) + field_size(value_size(v)) for k, v in value.items())
        return field_size(sum(field_size(entry) for entry in entries))
    raise TypeError(f"not a plain value: {type(value).__name__}")


def setting_size(key: str, source: str, value_bytes: int) -> int:
    """Bytes of one entry of a snapshot: a ``ConfigSetting`` of ``key`` at ``source`` whose value
    takes ``value_bytes`` (see :func:`value_size`), with its field tag and length."""
    body = field_size(text_size(key)) + field_size(value_bytes)
    if source:
        body += field_size(text_size(source))
    return field_size(body)
