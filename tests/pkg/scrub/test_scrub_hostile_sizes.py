"""Scrubbing stays linear in the size of its input: a hostile value cannot stall the core.

Each input is shaped to make an unbounded pattern backtrack (a quadratic scan of 256 KiB takes minutes);
the bound below is far above what a linear scan needs on a loaded machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from pkg.scrub import scrub_setting, scrub_text

SIZE = 256 * 1024
BOUND_SECONDS = 20.0

HOSTILE = {
    "long word after @": "@1:" + "v" * SIZE,
    "schemes without credentials": "http://" * (SIZE // 7) + "@",
    "colons without @ end": "a:" * (SIZE // 2) + "@",
    "key then spaces": "api_key" + " " * SIZE + ":",
    "unclosed pem blocks": "-----BEGIN x-----" * (SIZE // 17),
    "bearer words": "Bearer " * (SIZE // 7),
    "unclosed quotes after keys": "api_key: '" * (SIZE // 10),
    "pairs": "a=b " * (SIZE // 4),
}


def _finishes(work: Callable[[], object]) -> bool:
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(BOUND_SECONDS)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_scrubbing_a_hostile_value_finishes(text: str) -> None:
    assert _finishes(lambda: scrub_setting("custom.big", text))
    assert _finishes(lambda: scrub_text(text))


def test_credentials_are_still_found_in_a_long_value() -> None:
    value = "x" * SIZE + " http://user:hunter2hunter2@host:3128 " + "y" * SIZE
    shown, hidden = scrub_setting("proxy.https", value)
    assert hidden
    assert "hunter2hunter2" not in shown
    assert "http://user:********@host:3128" in shown
