"""Go-style durations ("10ms", "1m30s", "-1.5h") and plain seconds, to and from ``timedelta``.

Usage::

    parse_duration("1m30s")                   # timedelta(seconds=90)
    parse_duration(30)                        # timedelta(seconds=30): plain numbers are seconds
    parse_duration("2.5")                     # numeric text is seconds too
    format_duration(timedelta(seconds=90))    # "1m30s"

``timedelta`` has microsecond resolution: nanoseconds are rounded to the nearest microsecond.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pkg.config.errors import ConfigValueError

__all__ = ["DURATION_EXPECTED", "format_duration", "parse_duration"]

DURATION_EXPECTED = "a duration (Go syntax such as '10ms' or '1m30s', or a number of seconds)"

_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_ELEMENT = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NS_PER_US = 1_000
_NS_PER_S = 1_000_000_000
_MAX_DIGITS = 30  # far beyond timedelta's range and resolution; bounds the work on absurd input
_MAX_NS = int(timedelta.max.total_seconds()) * _NS_PER_S


def parse_duration(value: Any, key: str = "duration") -> timedelta:
    """A ``timedelta`` from Go duration syntax, a number of seconds, or numeric text (seconds).

    Raises :class:`ConfigValueError` naming ``key`` and the value on anything else (booleans, empty
    text, unknown units, out of range).
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ConfigValueError(key, value, DURATION_EXPECTED)
    if isinstance(value, int):
        return _from_ns(value * _NS_PER_S, key, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigValueError(key, value, DURATION_EXPECTED)
        return _from_ns(Fraction(value) * _NS_PER_S, key, value)
    if not isinstance(value, str):
        raise ConfigValueError(key, value, DURATION_EXPECTED)
    text = value.strip()
    if _NUMBER.fullmatch(text):
        number = Decimal(text)
        if number.adjusted() > _MAX_DIGITS:
            raise ConfigValueError(key, value, DURATION_EXPECTED + " within range")
        if number.adjusted() < -_MAX_DIGITS:
            return timedelta(0)
        return _from_ns(Fraction(number) * _NS_PER_S, key, value)
    return _from_ns(_parse_go(text, key, value), key, value)


def _parse_go(text: str, key: str, original: Any) -> Fraction:
    sign = 1
    rest = text
    if rest[:1] in ("+", "-"):
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if not rest:
        raise ConfigValueError(key, original, DURATION_EXPECTED)
    total = Fraction(0)
    pos = 0
    while pos < len(rest):
        match = _ELEMENT.match(rest, pos)
        if match is None:
            raise ConfigValueError(key, original, DURATION_EXPECTED)
        whole, frac, unit = match.groups()
        if not whole and not frac:
            raise ConfigValueError(key, original, DURATION_EXPECTED + f"; missing number before {unit!r}")
        if unit not in _NS_PER_UNIT:
            raise ConfigValueError(key, original, DURATION_EXPECTED + f"; unknown unit {unit!r}")
        if len(whole) > _MAX_DIGITS:
            raise ConfigValueError(key, original, DURATION_EXPECTED + " within range")
        frac = (frac or "")[:_MAX_DIGITS]
        number = Fraction(int(whole or "0"))
        if frac:
            number += Fraction(int(frac), 10 ** len(frac))
        total += number * _NS_PER_UNIT[unit]
        pos = match.end()
    return sign * total


def _from_ns(ns: Fraction | int, key: str, original: Any) -> timedelta:
    ns = Fraction(ns)
    if ns > _MAX_NS or ns < -_MAX_NS:
        raise ConfigValueError(key, original, DURATION_EXPECTED + " within range")
    micros = round(ns / _NS_PER_US)
    return timedelta(microseconds=micros)


def format_duration(delta: timedelta) -> str:
    """Go's ``time.Duration.String()`` of ``delta``: "1h0m0s", "1m30s", "1.5s", "10ms", "300µs", "0s"."""
    total_us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if total_us == 0:
        return "0s"
    sign = "-" if total_us < 0 else ""
    ns = abs(total_us) * _NS_PER_US
    if ns < _NS_PER_S:
        if ns < 1_000_000:
            return f"{sign}{_decimal(ns, _NS_PER_US)}\u00b5s"
        return f"{sign}{_decimal(ns, 1_000_000)}ms"
    hours, ns = divmod(ns, _NS_PER_UNIT["h"])
    minutes, ns = divmod(ns, _NS_PER_UNIT["m"])
    seconds = _decimal(ns, _NS_PER_S)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"
