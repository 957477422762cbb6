"""The INFO log of runtime settings changes: at once when quiet, folded into summaries when busy."""

from __future__ import annotations

import asyncio
import logging

import pytest

from comp.core.settings.impl.change_log import LOGGED_KEYS, ChangeLog, keys_summary

LOGGER = "test.settings.changes"
LONG = 3600.0  # no summary falls due during a test unless it asks for one


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]


def test_keys_summary_names_the_first_keys_in_order_and_counts_the_others() -> None:
    assert keys_summary(["b", "a"]) == "a, b"
    assert keys_summary([]) == ""
    many = [f"k{i:02d}" for i in range(LOGGED_KEYS + 3)]
    assert keys_summary(reversed(many)) == ", ".join(many[:LOGGED_KEYS]) + " and 3 more"


async def test_a_change_when_quiet_is_logged_at_once_and_later_ones_are_folded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = ChangeLog(logging.getLogger(LOGGER), interval=LONG)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        log.record(["log_level"], 5)
        assert _messages(caplog) == ["runtime settings changed (sequence id 5): log_level"]
        log.record(["b.key", "a.key"], 7)
        log.record(["a.key"], 8)
        log.record(["gone.key"], 9, removed=True)
        assert len(_messages(caplog)) == 1, "folded until the interval ends"
        log.flush()
        log.flush()  # nothing more to tell
    assert _messages(caplog)[1:] == [
        f"runtime settings changed by 3 more call(s) in the last {LONG:g}s (up to sequence id 9): "
        "a.key, b.key, gone.key"
    ]


async def test_a_removal_when_quiet_says_so(caplog: pytest.LogCaptureFixture) -> None:
    log = ChangeLog(logging.getLogger(LOGGER), interval=LONG)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        log.record(["custom.flag"], 3, removed=True)
    assert _messages(caplog) == ["runtime settings removed (sequence id 3): custom.flag"]


class _Summaries(logging.Handler):
    """Sets ``logged`` when a summary line is emitted."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "more call(s)" in record.getMessage():
            self.logged.set()


async def test_the_summary_is_logged_when_the_interval_ends(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(LOGGER)
    handler = _Summaries()
    logger.addHandler(handler)
    try:
        log = ChangeLog(logger, interval=0.05)
        with caplog.at_level(logging.INFO, logger=LOGGER):
            log.record(["a"], 1)
            log.record(["b"], 2)
            async with asyncio.timeout(10):
                await handler.logged.wait()
    finally:
        logger.removeHandler(handler)
    assert _messages(caplog) == [
        "runtime settings changed (sequence id 1): a",
        "runtime settings changed by 1 more call(s) in the last 0.05s (up to sequence id 2): b",
    ]


async def test_nothing_is_kept_when_info_is_off(caplog: pytest.LogCaptureFixture) -> None:
    log = ChangeLog(logging.getLogger(LOGGER), interval=LONG)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for sequence_id in range(1, 4):
            log.record(["a"], sequence_id)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        log.flush()
        log.record(["b"], 4)
    assert _messages(caplog) == ["runtime settings changed (sequence id 4): b"]
