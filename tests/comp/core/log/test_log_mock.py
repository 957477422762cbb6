"""The log mock: a settable level, nothing configured."""

from __future__ import annotations

import logging

from comp.core.log.def_ import Component
from comp.core.log.mock import MockLog


def test_mock_has_a_settable_level_and_leaves_logging_alone() -> None:
    handlers = list(logging.getLogger().handlers)
    log = MockLog()
    assert isinstance(log, Component)
    assert log.level == "info"

    log.level = "debug"

    assert log.level == "debug"
    assert logging.getLogger().handlers == handlers
