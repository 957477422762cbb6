"""Sizes in bytes as the Go agent writes them: ``10485760``, ``10Mb``, ``512KB``, ``1gb``."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["SIZE_EXPECTED", "parse_size"]

SIZE_EXPECTED = "a size in bytes (an integer, or text such as 512KB, 10MB, 1GB; units of 1024)"

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
_TEXT = re.compile(r"\s*(\d{1,15})\s*([a-zA-Z]{0,2})\s*")


def parse_size(value: Any) -> int:
    """The number of bytes ``value`` stands for; raises ValueError on anything else (bools included)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a size")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        match = _TEXT.fullmatch(value)
        if match is not None and match.group(2).lower() in _UNITS:
            return int(match.group(1)) * _UNITS[match.group(2).lower()]
    raise ValueError(f"not a size: {value!r}")
