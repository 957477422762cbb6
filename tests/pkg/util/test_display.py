from __future__ import annotations

from typing import Any

import pytest

from pkg.util.display import format_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("info", "info"),
        ("", ""),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (5001, "5001"),
        (5001.0, "5001"),
        (0.25, "0.25"),
        (2.0**60, "1.152921504606847e+18"),
        (["a", 1], '["a", 1]'),
        ({"b": 2, "a": None}, '{"a": null, "b": 2}'),
        ({"name": "café"}, '{"name": "café"}'),
    ],
)
def test_text_as_is_integral_doubles_as_integers_the_rest_as_json(value: Any, text: str) -> None:
    assert format_value(value) == text


def test_the_empty_text_can_be_told_apart_when_asked() -> None:
    assert format_value("", quote_empty=True) == '""'
    assert format_value("x", quote_empty=True) == "x"
