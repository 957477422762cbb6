"""How a setting's value is shown on one line: text as it is, everything else as JSON."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["format_value"]

_EXACT = 2**53
"""Doubles below this magnitude hold every integer exactly."""


def format_value(value: Any, *, quote_empty: bool = False) -> str:
    """Text as is (``""`` for the empty text with ``quote_empty``); integral doubles without ``.0``
    (protobuf numbers are doubles: show 5001, not 5001.0); anything else as JSON, keys sorted."""
    if isinstance(value, str):
        return '""' if quote_empty and not value else value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < _EXACT:
        value = int(value)
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
