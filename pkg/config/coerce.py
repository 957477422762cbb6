"""Lenient conversions of stored or streamed values to the getters' types.

Values reach a reader from YAML, environment variables, the command line, or the wire, where every
number of a ``google.protobuf.Value`` is a double and big integers may travel as decimal text. So:

- integers accept ints, integral floats and numeric text ("42", "42.0", "1e3", "18446744073709551615");
- booleans accept bools, 0/1, and "true"/"false"/"1"/"0"/"t"/"f"/"yes"/"no"/"on"/"off" (any case);
- strings accept text, numbers (an integral float prints without ".0") and booleans ("true"/"false");
- string lists accept lists, a YAML list as text ("[a, b]") or comma/space separated text;
- string maps accept mappings or a YAML/JSON mapping as text.

Text is read as YAML within :data:`pkg.config.safe_yaml.VALUE_LIMITS` (no anchors or aliases).
Every function raises :class:`ConfigValueError` naming ``key``, the value and what was expected, or
:class:`ConfigLimitError` for YAML over a limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from pkg.config.durations import format_duration, parse_duration
from pkg.config.errors import ConfigLimitError, ConfigValueError
from pkg.config.safe_yaml import YamlLimitError, load_value

__all__ = [
    "parse_list_text",
    "parse_mapping_text",
    "to_bool",
    "to_duration",
    "to_float",
    "to_int",
    "to_string",
    "to_string_list",
    "to_string_map",
]

_TRUE = frozenset({"1", "t", "true", "y", "yes", "on"})
_FALSE = frozenset({"0", "f", "false", "n", "no", "off"})
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SEPARATORS = re.compile(r"[,\s]+")
_MAX_EXPONENT = 4000  # bounds the size of an integer built from text such as "1e999999999"


def to_string(value: Any, key: str = "value") -> str:
    """Text of a scalar; lists and mappings are refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    raise ConfigValueError(key, value, "a string")


def to_int(value: Any, key: str = "value") -> int:
    """An int from an int, an integral float or numeric text."""
    if isinstance(value, bool):
        raise ConfigValueError(key, value, "an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise ConfigValueError(key, value, "an integer")
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text) and len(text) <= _MAX_EXPONENT:
            return int(text)
        if _NUMBER.fullmatch(text):
            number = Decimal(text)
            if number.adjusted() <= _MAX_EXPONENT and number == number.to_integral_value():
                return int(number)
    raise ConfigValueError(key, value, "an integer")


def to_float(value: Any, key: str = "value") -> float:
    """A finite float from a number or numeric text."""
    if isinstance(value, bool):
        raise ConfigValueError(key, value, "a number")
    result: float | None = None
    if isinstance(value, int):
        try:
            result = float(value)
        except OverflowError:
            result = None
    elif isinstance(value, float):
        result = value
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            result = float(Decimal(value.strip()))
        except (InvalidOperation, OverflowError):  # pragma: no cover - the pattern admits valid text only
            result = None
    if result is None or not math.isfinite(result):
        raise ConfigValueError(key, value, "a number")
    return result


def to_bool(value: Any, key: str = "value") -> bool:
    """A bool from a bool, 0/1, or true/false-like text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ConfigValueError(key, value, "a boolean (true or false)")


def to_duration(value: Any, key: str = "value") -> timedelta:
    """A ``timedelta`` from Go duration syntax or a number of seconds."""
    return parse_duration(value, key)


def _load_yaml(text: str, key: str, origin: str | None) -> Any:
    """The YAML value of ``text``; None when it is not YAML. Raises ConfigLimitError over a limit."""
    try:
        return load_value(text)
    except YamlLimitError as exc:
        where = f" (from {origin})" if origin else ""
        raise ConfigLimitError(
            key, f"invalid value for {key!r}{where}: {exc}", limit=exc.limit, maximum=exc.maximum
        ) from None
    except (yaml.YAMLError, ValueError):  # not YAML, or a tag that cannot build its value
        return None


def parse_list_text(text: str, key: str = "value", *, origin: str | None = None) -> list[Any]:
    """Items of a YAML list written as text ("[a, b]"), or of comma/space separated text."""
    stripped = text.strip()
    if stripped.startswith("["):
        items = _load_yaml(stripped, key, origin)
        if not isinstance(items, list):
            raise ConfigValueError(
                key, text, "a list (YAML '[a, b]' or comma/space separated text)", origin=origin
            )
        return items
    return [item for item in _SEPARATORS.split(stripped) if item]


def parse_mapping_text(text: str, key: str = "value", *, origin: str | None = None) -> dict[str, Any]:
    """A mapping written as YAML or JSON text; empty text is an empty mapping."""
    if not text.strip():
        return {}
    parsed = _load_yaml(text, key, origin)
    if not isinstance(parsed, dict):
        raise ConfigValueError(key, text, "a mapping (YAML or JSON object)", origin=origin)
    return {str(k): v for k, v in parsed.items()}


def to_string_list(value: Any, key: str = "value") -> list[str]:
    """A list of strings from a list or tuple of scalars, or from text (see :func:`parse_list_text`)."""
    if isinstance(value, str):
        items: list[Any] = parse_list_text(value, key)
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ConfigValueError(key, value, "a list of strings")
    try:
        return [to_string(item, key) for item in items]
    except ConfigValueError:
        raise ConfigValueError(key, value, "a list of strings") from None


def to_string_map(value: Any, key: str = "value") -> dict[str, Any]:
    """A dict with string keys from a mapping or from YAML/JSON text."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str):
        return parse_mapping_text(value, key)
    raise ConfigValueError(key, value, "a mapping")
