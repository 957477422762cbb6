"""Real signals sent to this process: the handlers run on the loop and are gone after the block."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from pkg.util.signals import handle_signals, stop_on_signals

WAIT = 5.0


async def test_sigterm_sets_stop_once_logged_and_the_handler_is_removed_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    log = logging.getLogger("signals-test")
    with caplog.at_level(logging.INFO, logger="signals-test"), stop_on_signals(stop, log):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), WAIT)
        os.kill(os.getpid(), signal.SIGINT)  # a second signal: still handled, not logged again
        await asyncio.sleep(0)
    assert [r.getMessage() for r in caplog.records] == ["received SIGTERM, stopping"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


async def test_another_signal_runs_its_callback() -> None:
    seen = asyncio.Event()
    with handle_signals({signal.SIGHUP: seen.set}):
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.wait_for(seen.wait(), WAIT)
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL


def test_outside_the_main_thread_nothing_is_installed() -> None:
    async def inside() -> bool:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

    async def in_a_thread() -> bool:
        return await asyncio.to_thread(asyncio.run, inside())

    assert asyncio.run(in_a_thread())
