from __future__ import annotations

import pytest

from pkg.util.text import DEFAULT_ECHO_LIMIT, shorten


def test_short_text_is_quoted_whole() -> None:
    assert shorten("System Probe") == "'System Probe'"
    assert shorten("a" * DEFAULT_ECHO_LIMIT) == repr("a" * DEFAULT_ECHO_LIMIT)


def test_text_one_past_the_limit_is_cut_and_says_how_much() -> None:
    assert shorten("abcdef", 5) == "'abcde'… (+1 chars)"


def test_a_megabyte_becomes_a_few_dozen_characters() -> None:
    echoed = shorten("x" * 3_000_000)
    assert len(echoed) < DEFAULT_ECHO_LIMIT + 32
    assert echoed.endswith(f"(+{3_000_000 - DEFAULT_ECHO_LIMIT} chars)")


def test_control_characters_cannot_forge_log_lines() -> None:
    assert "\n" not in shorten("agent\nERROR forged line")


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be >= 0, got -1"):
        shorten("x", -1)
