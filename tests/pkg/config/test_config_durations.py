from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkg.config.durations import format_duration, parse_duration
from pkg.config.errors import ConfigValueError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10ms", timedelta(milliseconds=10)),
        ("1m30s", timedelta(seconds=90)),
        ("1h", timedelta(hours=1)),
        ("-5s", timedelta(seconds=-5)),
        ("+3m", timedelta(minutes=3)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("300us", timedelta(microseconds=300)),
        ("300\u00b5s", timedelta(microseconds=300)),
        ("300\u03bcs", timedelta(microseconds=300)),
        ("1500ns", timedelta(microseconds=2)),  # rounded to timedelta's microseconds
        ("2h45m10.5s", timedelta(hours=2, minutes=45, seconds=10.5)),
        (".5s", timedelta(milliseconds=500)),
        ("5.s", timedelta(seconds=5)),
        ("0", timedelta(0)),
        (" 30s ", timedelta(seconds=30)),
    ],
)
def test_parse_go_syntax(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, timedelta(seconds=30)),
        (1.5, timedelta(seconds=1.5)),
        ("30", timedelta(seconds=30)),
        ("2.5", timedelta(seconds=2.5)),
        ("-1", timedelta(seconds=-1)),
        ("1e3", timedelta(seconds=1000)),
        ("1e-40", timedelta(0)),
        (timedelta(minutes=2), timedelta(minutes=2)),
    ],
)
def test_parse_plain_seconds(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("", ""),
        ("-", ""),
        ("abc", "missing number before 'abc'"),
        ("1x", "unknown unit 'x'"),
        ("1h-1m", "unknown unit 'h-'"),
        (".s", "missing number before 's'"),
        ("1.5.3s", ""),
        ("1 h", "unknown unit ' h'"),
        ("1e99", "within range"),
        ("99999999999999999999h", "within range"),
        ("9" * 40 + "s", "within range"),
        (10**20, "within range"),
        (True, ""),
        (None, ""),
        ([1], ""),
        (float("nan"), ""),
        (float("inf"), ""),
    ],
)
def test_parse_refuses_with_a_clear_message(value: object, detail: str) -> None:
    with pytest.raises(ConfigValueError) as info:
        parse_duration(value, "remote_agent.registry.idle_timeout")
    message = str(info.value)
    assert "remote_agent.registry.idle_timeout" in message
    assert repr(value) in message
    assert "expected a duration" in message and "'1m30s'" in message
    assert detail in message
    assert info.value.key == "remote_agent.registry.idle_timeout"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=1), "1h0m0s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=10), "10ms"),
        (timedelta(milliseconds=1, microseconds=500), "1.5ms"),
        (timedelta(microseconds=300), "300\u00b5s"),
        (timedelta(seconds=-5), "-5s"),
        (timedelta(hours=100, microseconds=1), "100h0m0.000001s"),
        (timedelta(days=2), "48h0m0s"),
    ],
)
def test_format_like_go(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@settings(max_examples=150, deadline=None)
@given(st.timedeltas(min_value=timedelta(days=-10_000), max_value=timedelta(days=10_000)))
def test_format_then_parse_round_trips(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta
